/**
 * Run a printed command line through a real POSIX shell (/bin/sh) and return the argv it would
 * hand the program, so tests can check that what we print is what the operator gets when pasting it.
 */
import { spawnSync } from 'node:child_process';

/**
 * The words `line` expands to in /bin/sh, program name first: the line runs with a function in
 * front of it that prints each argument NUL-terminated (so newlines and spaces survive). Runs in
 * `cwd`, so anything the line might execute by mistake happens there, where the test can look.
 */
export function shellArgv(line: string, cwd: string): string[] {
  const script = `argv() { for a in "$@"; do printf '%s\\000' "$a"; done; }\nargv ${line}\n`;
  const result = spawnSync('/bin/sh', ['-c', script], { cwd, encoding: 'buffer', env: { PATH: process.env.PATH ?? '/usr/bin:/bin' } });
  if (result.status !== 0) {
    throw new Error(`sh exited ${result.status}: ${result.stderr.toString('utf8')}\nline: ${line}`);
  }
  const out = result.stdout.toString('utf8');
  return out === '' ? [] : out.slice(0, -1).split('\0');
}
