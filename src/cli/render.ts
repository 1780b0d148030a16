/**
 * Turns step events into output. Three modes:
 * - TTY: an ora spinner per phase, progress as the spinner's text;
 * - plain (pipes, CI): one line per event, progress at most every few seconds;
 * - json: one NDJSON object per event, on stderr (stdout with --json-events; see output.ts).
 * Human-facing lines go to stderr so stdout stays clean for results (tables, JSON, SQL).
 */
import { inlineParams } from '../core/sql-literal.js';
import chalk from 'chalk';
import ora, { type Ora } from 'ora';
import type { MigrateEvent } from '../core/context.js';
import { writeEvent } from './output.js';

export interface Renderer {
  emit(event: MigrateEvent): void;
  /** Stop any spinner (before a prompt, before exit). */
  pause(): void;
  /** Print a line to stderr without breaking the spinner. */
  line(text: string): void;
}

export interface RenderOptions {
  json: boolean;
  tty: boolean;
  /** Seconds between plain progress lines. */
  progressEvery?: number;
}

export function createRenderer(options: RenderOptions): Renderer {
  if (options.json) return jsonRenderer();
  // A terminal that reports no width (some pseudo-terminals) makes ora's line clearing spin
  // forever, so those get plain lines.
  const usableTty = options.tty && (process.stderr.columns ?? 0) > 0;
  return usableTty ? ttyRenderer() : plainRenderer(options.progressEvery ?? 5);
}

function jsonRenderer(): Renderer {
  return {
    emit(event) { writeEvent(event); },
    pause() { /* nothing to pause */ },
    line(text) { process.stderr.write(`${text}\n`); },
  };
}

export function formatProgress(event: Extract<MigrateEvent, { type: 'progress' }>): string {
  const parts: string[] = [];
  if (event.table) parts.push(event.table);
  const rows = event.rowsTotal ? `${fmtInt(event.rowsDone)}/${fmtInt(event.rowsTotal)} rows` : `${fmtInt(event.rowsDone)} rows`;
  parts.push(rows);
  if (event.bytesDone !== undefined) parts.push(`${(event.bytesDone / 1048576).toFixed(1)} MB`);
  if (event.unitsTotal !== undefined) parts.push(`slices ${event.unitsDone ?? 0}/${event.unitsTotal}`);
  if (event.message) parts.push(event.message);
  return parts.join(' · ');
}

export function fmtInt(value: number): string {
  return Math.round(value).toLocaleString('en-US');
}

function describe(event: MigrateEvent): string | undefined {
  switch (event.type) {
    case 'info': return [event.message, ...(event.detail ?? []).map((l) => `    ${l}`)].join('\n');
    case 'warn': return [chalk.yellow(`warning: ${event.message}`), ...(event.detail ?? []).map((l) => `    ${l}`)].join('\n');
    case 'sql': {
      // Values inlined and quoted: what a dry run prints pastes into psql as it is.
      const text = (event.params?.length ? inlineParams(event.sql, event.params) : event.sql).trim();
      return `${chalk.dim(`-- on the ${event.side}`)}\n${text}${/;\s*$/.test(text) ? '' : ';'}`;
    }
    case 'command': return `${chalk.dim('$')} ${event.command}`;
    default: return undefined;
  }
}

function ttyRenderer(): Renderer {
  let spinner: Ora | undefined;
  let phaseMessage = '';
  const out = (text: string): void => {
    if (spinner?.isSpinning) {
      spinner.clear();
      process.stderr.write(`${text}\n`);
      spinner.render();
    } else {
      process.stderr.write(`${text}\n`);
    }
  };
  return {
    emit(event) {
      if (event.type === 'phase') {
        spinner?.stop();
        phaseMessage = event.message;
        spinner = ora({ text: event.message, stream: process.stderr }).start();
      } else if (event.type === 'done') {
        if (spinner) {
          if (event.ok === false) spinner.fail(event.message); else spinner.succeed(event.message);
          spinner = undefined;
        } else {
          out(`${event.ok === false ? chalk.red('✖') : chalk.green('✔')} ${event.message}`);
        }
      } else if (event.type === 'progress') {
        const text = `${phaseMessage ? `${phaseMessage} ` : ''}${formatProgress(event)}`;
        if (spinner) spinner.text = text; else out(text);
      } else if (event.type === 'sql' || event.type === 'command') {
        process.stdout.write(`${describe(event)}\n`);
      } else {
        const text = describe(event);
        if (text) out(text);
      }
    },
    pause() { spinner?.stop(); spinner = undefined; },
    line: out,
  };
}

function plainRenderer(progressEvery: number): Renderer {
  let lastProgress = 0;
  return {
    emit(event) {
      if (event.type === 'phase') process.stderr.write(`${event.message}\n`);
      else if (event.type === 'done') process.stderr.write(`${event.ok === false ? 'FAILED' : 'done'}: ${event.message}\n`);
      else if (event.type === 'progress') {
        const now = Date.now();
        if (now - lastProgress >= progressEvery * 1000) {
          lastProgress = now;
          process.stderr.write(`progress: ${formatProgress(event)}\n`);
        }
      } else if (event.type === 'sql' || event.type === 'command') {
        process.stdout.write(`${describe(event)}\n`);
      } else {
        const text = describe(event);
        if (text) process.stderr.write(`${text}\n`);
      }
    },
    pause() { /* nothing to pause */ },
    line(text) { process.stderr.write(`${text}\n`); },
  };
}
