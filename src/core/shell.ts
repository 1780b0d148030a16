/**
 * The one place that turns arguments into shell text. Every command line we print (next: hints,
 * --dry-run commands, summaries, wizard messages) is built here, so an operator can paste it into
 * sh, bash or zsh and the program receives exactly these arguments — whatever a table, column or
 * directory is called (quotes, `$(…)`, backticks, newlines, non-ASCII).
 *
 * POSIX single quotes keep every byte literal except `'` itself, which is written `'\''` (close,
 * escaped quote, reopen). Words made only of characters no shell treats specially stay bare.
 */
import path from 'node:path';

/** Characters that need no quoting anywhere in a word. A leading `=` does in zsh (`=cmd` expands), so it is quoted. */
const BARE = /^[A-Za-z0-9_@%+:,./-][A-Za-z0-9_@%+=:,./-]*$/;

/** Quote one argument for a POSIX shell. An argv entry cannot hold NUL, so a string with one is refused. */
export function shellQuote(arg: string): string {
  if (arg.includes('\0')) throw new RangeError('A command-line argument cannot contain a NUL character.');
  if (BARE.test(arg)) return arg;
  return `'${arg.replace(/'/g, `'\\''`)}'`;
}

/** `['migrate', 'schema', '--table', spec]` → a line that runs exactly that argv when pasted into a shell. */
export function formatCommandLine(argv: readonly string[]): string {
  return argv.map(shellQuote).join(' ');
}

/** A path as the operator would type it here: relative to the current directory when it is inside it. */
export function displayPath(file: string): string {
  const relative = path.relative(process.cwd(), file);
  if (relative === '') return '.';
  return path.isAbsolute(relative) || relative.split(path.sep)[0] === '..' ? file : relative;
}
