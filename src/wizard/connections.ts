/**
 * Step 1a: where the two databases are. Connection strings come from --source/--target, SOURCE/
 * TARGET, the plan, or the recorded (password-free) answers; a missing one is asked for. Each side
 * is tested before going on; a refused login asks for the password, masked, and keeps it in memory
 * only. Runs at the start of every wizard/resume run, since passwords are never stored.
 */
import { connect } from '../core/db.js';
import { connectionStringProblem, redact, splitPassword, withPassword as putPassword, type Endpoint,
  type Side } from '../core/connection.js';
import { MigrateError, UsageError } from '../core/errors.js';
import { answer, remember, type WizardContext } from './context.js';

/** Put a password typed at the prompt into a connection string (in memory only). */
export function withPassword(connectionString: string | undefined, password: string): string {
  return putPassword(connectionString, password);
}

function validConnectionString(value: string): true | string {
  if (value.trim() === '') return 'Enter a connection string, e.g. postgresql://user@host:5432/dbname';
  const found = connectionStringProblem(value);
  return found ? `Not valid: ${found.problem}. ${found.hint}` : true;
}

async function chooseConnection(ctx: WizardContext, side: Side): Promise<Endpoint> {
  const current = ctx.step[side];
  const recorded = ctx.answers[side];
  if (current.connectionString !== undefined) {
    const now = splitPassword(current.connectionString).connectionString;
    if (recorded !== undefined && recorded !== now) {
      ctx.say(`The ${side} recorded for this migration is ${recorded}, but this run was given ${now}.`);
      const same = await answer(ctx, {
        field: side, flag: `--${side}`, what: `whether ${now} is the same ${side} database`, given: undefined,
        ask: () => ctx.prompts.confirm({ message: `Continue with ${now} as the ${side}?`, default: false }),
      });
      if (!same) {
        throw new UsageError(`Stopped: the ${side} differs from the one recorded in ${ctx.step.dir}.`, {
          hint: `Pass the recorded --${side}, or start a separate migration with another --dir.`,
        });
      }
    }
    return current;
  }
  const value = await answer(ctx, {
    field: side, flag: `--${side} (or ${side.toUpperCase()})`, what: `the ${side} connection string`,
    given: recorded,
    ask: () => ctx.prompts.input({
      message: `${side === 'source' ? 'Source (the database to move)' : 'Target (TimescaleDB)'} connection string`,
      validate: validConnectionString,
    }),
  });
  return { side, connectionString: value };
}

async function testConnection(ctx: WizardContext, endpoint: Endpoint): Promise<Endpoint> {
  let current = endpoint;
  for (let attempt = 1; ; attempt += 1) {
    try {
      const client = await connect(current, { applicationName: 'migrate wizard' });
      await client.end().catch(() => undefined);
      ctx.say(`✔ connected to the ${endpoint.side}: ${redact(current.connectionString)}`);
      return current;
    } catch (error) {
      // A refused login, or none attempted because no password was known. Not a pg_hba.conf that wants
      // TLS: a password would not help there.
      const refused = error instanceof MigrateError && !/no encryption/i.test(error.message) &&
        /refused the login|password required/i.test(error.message);
      if (!refused || !ctx.interactive || attempt > 3) {
        if (refused && !ctx.interactive) {
          throw new UsageError(`The ${endpoint.side} needs a password: ${error.message}`, {
            hint: `Passwords are never stored: give it in --${endpoint.side}, PGPASSWORD, ~/.pgpass (or the file PGPASSFILE ` +
              'names) or the service file (service=NAME or PGSERVICE), or run in a terminal to be asked.',
            cause: error,
          });
        }
        throw error instanceof MigrateError ? error : new MigrateError(String(error), { cause: error });
      }
      ctx.say(error.message);
      const password = await ctx.prompts.password({ message: `Password for the ${endpoint.side} (${redact(current.connectionString)})` });
      current = { side: endpoint.side, connectionString: withPassword(splitPassword(current.connectionString ?? '').connectionString, password) };
    }
  }
}

/** Resolve and test both connections; record them without passwords. */
export async function ensureConnections(ctx: WizardContext): Promise<void> {
  for (const side of ['source', 'target'] as const) {
    const chosen = await chooseConnection(ctx, side);
    const tested = await testConnection(ctx, chosen);
    ctx.step[side] = tested;
    if (tested.connectionString !== undefined) {
      await remember(ctx, { [side]: splitPassword(tested.connectionString).connectionString });
    }
  }
}
