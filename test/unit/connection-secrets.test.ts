/**
 * Hostile connection strings, from an adversarial review: whatever form the password takes, it never
 * reaches a message (err.message, err.hint), the password-free string we store and pass to psql,
 * plan.json, plan validation or state.json.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { connect, explainConnectError } from '../../src/core/db.js';
import { hasSecret, redact, resolveEndpoint, splitPassword, type Endpoint } from '../../src/core/connection.js';
import { MigrateError, UsageError, describeError } from '../../src/core/errors.js';
import { parsePlan, serializePlan } from '../../src/core/plan.js';
import { StateStore, stateFile } from '../../src/core/state.js';

const S = 'Sekr1t';

/** [connection string, the secret as a person would recognise it]: each leaked somewhere before. */
const HOSTILE: Array<[string, string]> = [
  ['postgres://u:pa/ss@h/db', 'pa/ss'],
  [`postgres://u:12/${S}@h/db`, `12/${S}`],
  [`postgresql://u:${S}?x@h/db`, `${S}?x`],
  [`postgresql://u:${S}@[bad`, S],
  [`postgresql://app@db/prod?PASSWORD=${S}&sslmode=require`, S],
  [`postgresql://app@db/prod?sslmode=require&Password=${S}`, S],
  [`postgresql://app@db/prod?sslmode=require&PASS%57ORD=${S}`, S],
  [`postgresql://h/db?sslpassword=${S}`, S],
  [`postgresql://h/db?oauth_client_secret=${S}`, S],
  [`host=db PASSWORD=${S} dbname=prod`, S],
  [`host=db Password = '${S} x' dbname=prod`, S],
  [`host=db user=app password='it''s-${S}' dbname=prod`, S],
  [`host=db password=my ${S} dbname=d`, S],
  [`host=db password=my ${S}=x dbname=d`, S],
  [`password='unterminated ${S} host=h`, S],
  [`host=h sslpassword=${S} sslkey=/k`, S],
  [`jdbc:postgresql://h/db?user=u&password=${S}`, S],
];

/** Forms the old code already handled; kept so that the libpq parser cannot regress on them. */
const GUARDS: Array<[string, string]> = [
  [`postgres://u:p@${S}@h/db`, `p@${S}`],
  [`postgresql://app@db/prod?pass%77ord=${S}`, S],
  [`POSTGRES://u:${S}@h/db`, S],
  [`postgres://u:${S}%2Fx@h/db`, `${S}/x`],
  [`host=db password = 'a\\'${S} b' dbname=prod`, S],
  [`host=db\tpassword=${S}\tdbname=prod`, S],
];

function expectClean(text: string | undefined, secret: string): void {
  for (const piece of [secret, encodeURIComponent(secret)]) expect(text ?? '').not.toContain(piece);
}

const dir = mkdtempSync(path.join(os.tmpdir(), 'migrate-secrets-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function expectNowhere(value: string, secret: string): Promise<void> {
  // redact() and the password-free string we store and hand to psql.
  expectClean(redact(value), secret);
  expectClean(splitPassword(value).connectionString, secret);
  // What we store must not read as holding a password itself, and redacting twice changes nothing.
  expect(hasSecret(redact(value))).toBe(false);
  expect(redact(redact(value))).toBe(redact(value));

  // The error refusing the string (exit 2), from resolveEndpoint and from connect(), before any network access.
  let refused: unknown;
  try {
    resolveEndpoint('source', value, {});
  } catch (error) {
    refused = error;
  }
  if (refused) {
    expect(refused).toBeInstanceOf(UsageError);
    expectClean((refused as UsageError).message, secret);
    expectClean((refused as UsageError).hint, secret);
    const failed = await connect({ side: 'source', connectionString: value }, { env: { HOME: dir } }).catch((e: unknown) => e);
    expect(failed).toBeInstanceOf(UsageError);
    expectClean((failed as UsageError).message, secret);
    expectClean((failed as UsageError).hint, secret);
  }
  // A driver or tool message that echoes the string or the password is scrubbed.
  const endpoint: Endpoint = { side: 'source', connectionString: value };
  // (A driver only ever sees strings that parse: its detail may quote the password as parsed.)
  const parsedPassword = refused ? undefined : splitPassword(value).password;
  const echo = Object.assign(new Error(`bad thing near "${value}"`), { code: 'XX000', detail: `password "${parsedPassword ?? ''}"` });
  const explained = explainConnectError(endpoint, echo);
  expect(explained).toBeInstanceOf(MigrateError);
  expectClean(explained.message, secret);
  expectClean(explained.hint, secret);
  // The error boundary (src/cli/main.ts) prints the cause as well.
  expectClean(describeError(explained.cause), secret);

  // Plans refuse it without quoting it, and plan.json never holds it.
  let message = '';
  try {
    parsePlan(JSON.stringify({ version: 1, source: value }), 'The plan');
  } catch (error) {
    message = `${(error as Error).message} ${(error as UsageError).hint ?? ''}`;
  }
  expect(message).toMatch(/source: contains a password/);
  expectClean(message, secret);
  expectClean(serializePlan({ source: value, target: value }), secret);

  // state.json never holds it (and can be read back).
  const store = await StateStore.open(dir, 'wizard');
  try {
    await store.setAnswers({ source: value, target: value });
  } finally {
    await store.release();
  }
  expectClean(readFileSync(stateFile(dir), 'utf8'), secret);
}

describe('a password in any form never leaks: redact(), splitPassword(), errors, plans, state.json', () => {
  it.each(HOSTILE)('%s', expectNowhere);
  it.each(GUARDS)('%s (guard)', expectNowhere);
});

describe('refusing what libpq refuses, clearly', () => {
  it('PASSWORD= in upper case is an invalid option, as for psql (exit 2), and says how to write it', () => {
    const error = (() => { try { resolveEndpoint('target', `host=h PASSWORD=${S}`, {}); } catch (e) { return e; } })();
    expect(error).toBeInstanceOf(UsageError);
    expect((error as UsageError).exitCode).toBe(2);
    expect((error as UsageError).message).toContain('invalid connection option "PASSWORD"');
    expect((error as UsageError).message).toContain('write "password"');
  });

  it('an unencoded "/" in a URI password is refused with the encoding to use', () => {
    const error = (() => { try { resolveEndpoint('source', 'postgres://u:pa/ss@h/db', {}); } catch (e) { return e; } })();
    expect(error).toBeInstanceOf(UsageError);
    expect((error as UsageError).hint).toContain('%2F');
    expect((error as UsageError).message).toContain('postgres://***@h/db');
  });

  it('keeps what is not a secret, so messages stay useful', () => {
    expect(redact('postgresql://app:pw@db:5433/prod?sslmode=verify-full&sslrootcert=/ca.crt'))
      .toBe('postgresql://app@db:5433/prod?sslmode=verify-full&sslrootcert=/ca.crt');
    expect(redact("host=db port=5433 password='x y' sslmode=require")).toBe('host=db port=5433 sslmode=require');
    expect(redact(`host=db PASSWORD=${S} dbname=prod`)).toBe('host=db dbname=prod');
  });
});
