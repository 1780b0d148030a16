import { describe, expect, it } from 'vitest';
import { createDatabases, hasTimescale, sql } from '../helpers/databases.js';

describe('test harness', () => {
  it('gives each test file its own source and target databases on throwaway clusters', async () => {
    const dbs = await createDatabases('harness');
    try {
      const [source] = await sql<{ port: string; addr: string }>(dbs.source,
        "SELECT current_setting('port') AS port, inet_server_addr()::text AS addr");
      const [target] = await sql<{ port: string }>(dbs.target, "SELECT current_setting('port') AS port");
      expect(source?.addr).toBe('127.0.0.1/32');
      expect(source?.port).not.toBe(target?.port);
      const [preload] = await sql<{ v: string }>(dbs.target, "SELECT current_setting('shared_preload_libraries') AS v");
      expect(preload?.v.includes('timescaledb')).toBe(hasTimescale);
    } finally {
      await dbs.drop();
    }
  });
});
