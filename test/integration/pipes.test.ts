/**
 * Issue #11.2: a reader that goes away (`| head -1`) ends the command quietly, with its own exit
 * code: no EPIPE stack trace, no exit 1.
 */
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../helpers/cli.js';

function piped(args: string): { code: number; stderr: string; first: string } {
  // bash for PIPESTATUS: the command's own exit code, not head's.
  const script = `err=$(mktemp); "${process.execPath}" --import tsx src/cli/main.ts ${args} 2>"$err" | head -1; ` +
    'code=${PIPESTATUS[0]}; cat "$err" >&2; rm -f "$err"; exit $code';
  const r = spawnSync('bash', ['-c', script], { cwd: repoRoot, encoding: 'utf8', env: { ...process.env, FORCE_COLOR: '0' } });
  return { code: r.status ?? -1, stderr: r.stderr, first: r.stdout.trim() };
}

describe('stdout closed early', () => {
  it.each(['backfill --help', '--help', 'wizard --help'])('migrate %s | head -1 exits 0 without a stack trace', (args) => {
    for (let i = 0; i < 3; i += 1) {
      const r = piped(args);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).not.toMatch(/EPIPE|Unhandled 'error' event/);
      expect(r.first).toMatch(/^Usage: migrate/);
    }
  });
});
