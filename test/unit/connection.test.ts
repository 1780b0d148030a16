import { describe, expect, it } from 'vitest';
import { clientConfig, redact, resolveEndpoint, splitPassword } from '../../src/core/connection.js';
import { connectionArgs } from '../../src/core/pg-tools.js';
import { UsageError } from '../../src/core/errors.js';

describe('connection strings', () => {
  it('takes the flag over SOURCE/TARGET and falls back to libpq defaults', () => {
    expect(resolveEndpoint('source', 'postgres://a@h/db', { SOURCE: 'postgres://b@h/db' }).connectionString)
      .toBe('postgres://a@h/db');
    expect(resolveEndpoint('target', undefined, { TARGET: 'postgres://b@h/db' }).connectionString).toBe('postgres://b@h/db');
    expect(resolveEndpoint('target', undefined, {}).connectionString).toBeUndefined();
  });
  it('rejects an unreadable string without echoing the password', () => {
    try {
      resolveEndpoint('source', 'postgres://u:s3cret@[bad', {});
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(UsageError);
      expect(String((error as Error).message)).not.toContain('s3cret');
    }
  });
  it('removes passwords from URIs and key=value strings', () => {
    expect(redact('postgres://app:p%40ss@db:5432/prod')).toBe('postgres://app@db:5432/prod');
    expect(splitPassword('postgres://app:p%40ss@db:5432/prod').password).toBe('p@ss');
    expect(splitPassword('postgresql://app@db/prod?password=x&sslmode=require')).toEqual({
      connectionString: 'postgresql://app@db/prod?sslmode=require', password: 'x',
    });
    const kv = splitPassword("host=db user=app password='it\\'s' dbname=prod");
    expect(kv).toEqual({ connectionString: 'host=db user=app dbname=prod', password: "it's" });
    expect(redact("host=db password=hunter2 dbname=prod")).not.toContain('hunter2');
  });
  it('passes passwords to tools through PGPASSWORD, never argv', () => {
    const { args, env } = connectionArgs({ side: 'source', connectionString: 'postgres://app:hunter2@db/prod' }, { HOME: '/nonexistent' });
    expect(args.join(' ')).not.toContain('hunter2');
    expect(env.PGPASSWORD).toBe('hunter2');
  });
  it('translates key=value strings for node-postgres', () => {
    expect(clientConfig({ side: 'target', connectionString: "host=127.0.0.1 port=5433 dbname='my db' user=u" }, { HOME: '/nonexistent' }))
      .toMatchObject({ host: '127.0.0.1', port: 5433, database: 'my db', user: 'u' });
  });
});
