/**
 * The ONE module that talks to Inquirer. Everything else asks through this small interface, so
 * tests either drive the real prompts with @inquirer/testing (which swaps @inquirer/prompts' I/O)
 * or hand the flow a scripted `Prompts` object.
 *
 * Before every prompt the renderer's spinner is paused: a spinner never runs under a prompt.
 * Ctrl-C inside a prompt (Inquirer's ExitPromptError) and an aborted run (AbortPromptError) both
 * become an InterruptedError, so the flow records the step as interrupted and says how to resume.
 */
import * as inquirer from '@inquirer/prompts';
import { InterruptedError } from '../core/errors.js';

export interface Choice<T> {
  name: string;
  value: T;
  description?: string;
  /** true or a reason: shown but cannot be picked. */
  disabled?: boolean | string;
  checked?: boolean;
}

export interface Prompts {
  /** `validate` may ask a database (the wizard checks answers against the source's catalog). */
  input(options: { message: string; default?: string; validate?: (value: string) => true | string | Promise<true | string> }):
    Promise<string>;
  /** Masked input. */
  password(options: { message: string }): Promise<string>;
  confirm(options: { message: string; default?: boolean }): Promise<boolean>;
  select<T>(options: { message: string; choices: Choice<T>[]; default?: T }): Promise<T>;
  checkbox<T>(options: { message: string; choices: Choice<T>[] }): Promise<T[]>;
}

export interface PromptOptions {
  /** Called before each prompt opens (pause the spinner). */
  beforePrompt?: () => void;
  /** Aborts an open prompt (Ctrl-C outside raw mode, SIGTERM). */
  signal?: AbortSignal;
}

function interrupted(error: unknown): never {
  const name = error instanceof Error ? error.name : '';
  if (name === 'ExitPromptError' || name === 'AbortPromptError' || name === 'CancelPromptError') {
    throw new InterruptedError('Stopped at a question (Ctrl-C).', {
      hint: 'Run `migrate resume` to carry on; your earlier answers are kept.',
      cause: error,
    });
  }
  throw error;
}

/** Prompts backed by @inquirer/prompts. */
export function createPrompts(options: PromptOptions = {}): Prompts {
  const context = options.signal ? { signal: options.signal } : {};
  const ask = async <T>(open: () => Promise<T>): Promise<T> => {
    options.beforePrompt?.();
    if (options.signal?.aborted) interrupted(Object.assign(new Error('aborted'), { name: 'AbortPromptError' }));
    try {
      return await open();
    } catch (error) {
      return interrupted(error);
    }
  };
  return {
    input: (o) => ask(() => inquirer.input({
      message: o.message,
      ...(o.default !== undefined ? { default: o.default } : {}),
      ...(o.validate ? { validate: o.validate } : {}),
    }, context)),
    password: (o) => ask(() => inquirer.password({ message: o.message, mask: '*' }, context)),
    confirm: (o) => ask(() => inquirer.confirm({ message: o.message, default: o.default ?? false }, context)),
    select: <T>(o: { message: string; choices: Choice<T>[]; default?: T }) => ask(() => inquirer.select<T>({
      message: o.message,
      choices: o.choices.map(({ checked: _checked, ...c }) => c),
      ...(o.default !== undefined ? { default: o.default } : {}),
      pageSize: 12,
    }, context)),
    checkbox: <T>(o: { message: string; choices: Choice<T>[] }) => ask(() => inquirer.checkbox<T>({
      message: o.message,
      choices: o.choices,
      pageSize: 12,
    }, context)),
  };
}
