import { describe, expect, it } from 'vitest';
import {
  CREATE_IF_MISSING_REASON, createIfMissing, maskPasswords, rewriteRoles, splitSegments,
} from '../../src/core/role-rewrite.js';

const HASH_APP = 'SCRAM-SHA-256$4096:fhYZSGWLlcIyE5cf/sN+SQ==$83vHnL75kdRrzeawsj820zylwvFOPbL4WUzGPnOR9Dk=:ff9VjIkGaxYjJGF4Te2C6hxbvPxX1NNyuvMjjtTZBjc=';
const HASH_PG = 'SCRAM-SHA-256$4096:gps0QyhDMZd4RbX5qChe1g==$6SPbP7qfVFikr5FlHPFVdJ/dhohbB2ML+Z4FLLkV8TQ=:VGkkpO/xCakgaNPU27UPPAq0M1P+fRYnDDqBCybBFwo=';
const HASH_ADMIN = 'md5a3556571e93b0d20722ba62be61e8c2d';

/** Real pg_dumpall 15.18 --roles-only --quote-all-identifiers output (hashes replaced). */
const PG15_DUMP = `--
-- PostgreSQL database cluster dump
--

\\restrict yX6mhrpnAFHa11SM9V8cM77XkulftLjYWiibB5G1PLHxecbN2xaFQtGeiBMgMqv

SET default_transaction_read_only = off;

SET client_encoding = 'UTF8';
SET standard_conforming_strings = on;

--
-- Roles
--

CREATE ROLE "Role ""X"" y$$z";
ALTER ROLE "Role ""X"" y$$z" WITH NOSUPERUSER INHERIT NOCREATEROLE NOCREATEDB LOGIN NOREPLICATION NOBYPASSRLS;
CREATE ROLE "app";
ALTER ROLE "app" WITH NOSUPERUSER INHERIT NOCREATEROLE NOCREATEDB LOGIN NOREPLICATION NOBYPASSRLS CONNECTION LIMIT 5 PASSWORD '${HASH_APP}' VALID UNTIL '2030-01-01 00:00:00+01';
COMMENT ON ROLE "app" IS 'it''s the
app; with a semicolon';
CREATE ROLE "grp";
ALTER ROLE "grp" WITH NOSUPERUSER INHERIT NOCREATEROLE NOCREATEDB NOLOGIN NOREPLICATION NOBYPASSRLS;
CREATE ROLE "postgres";
ALTER ROLE "postgres" WITH SUPERUSER INHERIT CREATEROLE CREATEDB LOGIN REPLICATION BYPASSRLS PASSWORD '${HASH_PG}';
CREATE ROLE "su";
ALTER ROLE "su" WITH SUPERUSER INHERIT NOCREATEROLE NOCREATEDB NOLOGIN REPLICATION BYPASSRLS;
CREATE ROLE "tsdbadmin";
ALTER ROLE "tsdbadmin" WITH NOSUPERUSER INHERIT CREATEROLE CREATEDB LOGIN NOREPLICATION NOBYPASSRLS PASSWORD '${HASH_ADMIN}';
COMMENT ON ROLE "tsdbadmin" IS 'admin';

--
-- User Configurations
--

--
-- User Config "app"
--

ALTER ROLE "app" SET "search_path" TO 'a', 'b';
ALTER ROLE "tsdbadmin" SET "statement_timeout" TO '0';


--
-- Role memberships
--

GRANT "grp" TO "Role ""X"" y$$z" WITH ADMIN OPTION GRANTED BY "postgres";
GRANT "grp" TO "app" GRANTED BY "postgres";
GRANT "grp" TO "tsdbadmin" GRANTED BY "postgres";
GRANT "tsdbadmin" TO "app" GRANTED BY "postgres";


--
-- Role privileges on configuration parameters
--

GRANT SET ON PARAMETER "log_statement" TO "app";


\\unrestrict yX6mhrpnAFHa11SM9V8cM77XkulftLjYWiibB5G1PLHxecbN2xaFQtGeiBMgMqv

--
-- PostgreSQL database cluster dump complete
--

`;

/** pg_dumpall 16+ membership lines: WITH [ADMIN OPTION, ]INHERIT TRUE|FALSE[, SET FALSE] GRANTED BY. */
const PG16_GRANTS = `CREATE ROLE "grp";
ALTER ROLE "grp" WITH NOSUPERUSER INHERIT NOCREATEROLE NOCREATEDB NOLOGIN NOREPLICATION NOBYPASSRLS;
CREATE ROLE "app";
ALTER ROLE "app" WITH NOSUPERUSER INHERIT NOCREATEROLE NOCREATEDB LOGIN NOREPLICATION NOBYPASSRLS;
CREATE ROLE "ops";
ALTER ROLE "ops" WITH NOSUPERUSER INHERIT NOCREATEROLE NOCREATEDB LOGIN NOREPLICATION NOBYPASSRLS;
GRANT "grp" TO "app" WITH INHERIT TRUE GRANTED BY "postgres";
GRANT "grp" TO "ops" WITH ADMIN OPTION, INHERIT FALSE, SET FALSE GRANTED BY "postgres";
GRANT "app" TO "ops" WITH INHERIT TRUE GRANTED BY "ops";
`;

const managed = { targetIsSuperuser: false, targetAdminRoles: ['postgres', 'tsdbadmin'] };
const selfHosted = { targetIsSuperuser: true, targetAdminRoles: ['postgres'] };

function statementsOf(sql: string): string[] {
  return splitSegments(sql).filter((s) => s.statement).map((s) => s.text);
}

describe('splitSegments', () => {
  it('keeps quoted semicolons, newlines in literals and meta-commands apart', () => {
    const statements = statementsOf(PG15_DUMP);
    expect(statements).toContain(`COMMENT ON ROLE "app" IS 'it''s the\napp; with a semicolon';`);
    expect(statements.some((s) => s.startsWith('\\restrict'))).toBe(false);
    expect(statements.join('')).not.toContain('--');
  });

  it('reports the line each statement starts on', () => {
    const grant = splitSegments(PG15_DUMP).find((s) => s.text.startsWith('GRANT "grp" TO "app"'));
    expect(grant?.line).toBe(PG15_DUMP.split('\n').findIndex((l) => l.startsWith('GRANT "grp" TO "app"')) + 1);
  });
});

describe('rewriteRoles for a non-superuser (managed) target', () => {
  const result = rewriteRoles(PG15_DUMP, managed);

  it('drops every statement about postgres and the admin role, and reports each', () => {
    expect(result.sql).not.toMatch(/(CREATE|ALTER) ROLE "(postgres|tsdbadmin)"/);
    expect(result.sql).not.toContain('COMMENT ON ROLE "tsdbadmin"');
    expect(result.sql).not.toMatch(/GRANT .*"tsdbadmin"/);
    const removed = result.changes.filter((c) => c.action === 'removed').map((c) => c.before.split('\n')[0]);
    expect(removed).toEqual([
      'CREATE ROLE "postgres";',
      `ALTER ROLE "postgres" WITH SUPERUSER INHERIT CREATEROLE CREATEDB LOGIN REPLICATION BYPASSRLS PASSWORD '***';`,
      'CREATE ROLE "tsdbadmin";',
      `ALTER ROLE "tsdbadmin" WITH NOSUPERUSER INHERIT CREATEROLE CREATEDB LOGIN NOREPLICATION NOBYPASSRLS PASSWORD '***';`,
      `COMMENT ON ROLE "tsdbadmin" IS 'admin';`,
      `ALTER ROLE "tsdbadmin" SET "statement_timeout" TO '0';`,
      'GRANT "grp" TO "tsdbadmin" GRANTED BY "postgres";',
      'GRANT "tsdbadmin" TO "app" GRANTED BY "postgres";',
      'GRANT SET ON PARAMETER "log_statement" TO "app";',
    ]);
  });

  it('strips superuser-only attributes and keeps the rest byte for byte', () => {
    expect(result.sql).toContain(`ALTER ROLE "app" WITH INHERIT NOCREATEROLE NOCREATEDB LOGIN CONNECTION LIMIT 5 PASSWORD '${HASH_APP}' VALID UNTIL '2030-01-01 00:00:00+01';`);
    expect(result.sql).toContain('ALTER ROLE "su" WITH INHERIT NOCREATEROLE NOCREATEDB NOLOGIN;');
    expect(result.sql).not.toMatch(/\b(NO)?(SUPERUSER|REPLICATION|BYPASSRLS)\b/);
    const su = result.changes.find((c) => c.before.startsWith('ALTER ROLE "su"'));
    expect(su).toMatchObject({ action: 'changed', after: 'ALTER ROLE "su" WITH INHERIT NOCREATEROLE NOCREATEDB NOLOGIN;' });
    expect(su?.reason).toContain('"su" had SUPERUSER, REPLICATION, BYPASSRLS on the source');
  });

  it('removes GRANTED BY and keeps ADMIN OPTION', () => {
    expect(result.sql).toContain('GRANT "grp" TO "Role ""X"" y$$z" WITH ADMIN OPTION;\n');
    expect(result.sql).toContain('GRANT "grp" TO "app";\n');
    expect(result.sql).not.toContain('GRANTED BY');
  });

  it('keeps comments, SET lines, \\restrict and settings of other roles', () => {
    expect(result.sql).toContain('SET standard_conforming_strings = on;');
    expect(result.sql).toContain('\\restrict yX6mhrpn');
    expect(result.sql).toContain('\\unrestrict yX6mhrpn');
    expect(result.sql).toContain(`ALTER ROLE "app" SET "search_path" TO 'a', 'b';`);
    expect(result.sql).toContain(`COMMENT ON ROLE "app" IS 'it''s the\napp; with a semicolon';`);
  });

  it('lists the created and login roles, without the target\'s own', () => {
    expect(result.roles).toEqual(['Role "X" y$$z', 'app', 'grp', 'su']);
    expect(result.loginRoles).toEqual(['Role "X" y$$z', 'app']);
  });

  it('never reports a password hash', () => {
    const reported = JSON.stringify(result.changes);
    for (const hash of [HASH_APP, HASH_PG, HASH_ADMIN]) expect(reported).not.toContain(hash);
    expect(reported).toContain("PASSWORD '***'");
    // The file itself keeps the hashes of the roles it creates (it is written with mode 0600).
    expect(result.sql).toContain(HASH_APP);
    expect(result.sql).not.toContain(HASH_PG);
  });

  it('replaces a removed statement with a one-line comment, even for names with newlines', () => {
    const sql = 'CREATE ROLE "evil\nDROP DATABASE x; --";\n';
    const out = rewriteRoles(sql, { targetIsSuperuser: false, targetAdminRoles: ['evil\nDROP DATABASE x; --'] });
    expect(out.sql.split('\n').filter((l) => !l.startsWith('--'))).toEqual(['']);
  });

  it('strips CREATEDB too when the target user may not grant it (PostgreSQL 16+)', () => {
    const out = rewriteRoles(PG15_DUMP, { ...managed, targetCanGrantCreateDb: false });
    expect(out.sql).toContain('ALTER ROLE "grp" WITH INHERIT NOCREATEROLE NOLOGIN;');
  });

  it('leaves roles that are superuser or replication roles on the target alone', () => {
    const out = rewriteRoles(PG15_DUMP, { ...managed, existingTargetRoles: [
      { name: 'su', superuser: true }, { name: 'app', superuser: false, replication: true }, { name: 'grp', superuser: false },
      { name: 'postgres', superuser: true }] });
    expect(out.sql).not.toContain('ALTER ROLE "su"');
    expect(out.sql).not.toMatch(/ALTER ROLE "app" WITH|COMMENT ON ROLE "app"/);
    expect(out.sql).toContain('ALTER ROLE "grp" WITH');
    expect(out.changes.find((c) => c.before.startsWith('ALTER ROLE "su"'))?.reason).toContain('is a superuser or replication role on the target');
  });

  it('drops role settings of parameters the target user may not set', () => {
    const dump = `${PG15_DUMP}ALTER ROLE "app" SET "log_statement" TO 'all';\nALTER ROLE "app" IN DATABASE "db" SET "log_min_duration_statement" TO '1s';\n`;
    const out = rewriteRoles(dump, { ...managed, unsettableParameters: ['log_statement', 'log_min_duration_statement'] });
    expect(out.sql).not.toContain('SET "log_statement"');
    expect(out.sql).not.toContain('SET "log_min_duration_statement"');
    expect(out.sql).toContain(`ALTER ROLE "app" SET "search_path" TO 'a', 'b';`);
    expect(out.changes.filter((c) => c.reason.startsWith('only a superuser can set'))).toHaveLength(2);
    expect(rewriteRoles(dump, { ...selfHosted, unsettableParameters: ['log_statement'] }).sql).toContain('"log_statement"');
  });

  it('drops an ALTER left without attributes', () => {
    const out = rewriteRoles('CREATE ROLE "r";\nALTER ROLE "r" WITH NOSUPERUSER NOREPLICATION;\n', managed);
    expect(out.sql).not.toContain('ALTER ROLE');
    expect(out.changes.at(-1)?.action).toBe('removed');
  });
});

describe('rewriteRoles for a superuser target', () => {
  const result = rewriteRoles(PG15_DUMP, { ...selfHosted, targetAdminRoles: ['postgres', 'migrator'] });

  it('keeps attributes, GRANTED BY and parameter privileges', () => {
    expect(result.sql).toContain('ALTER ROLE "su" WITH SUPERUSER INHERIT NOCREATEROLE NOCREATEDB NOLOGIN REPLICATION BYPASSRLS;');
    expect(result.sql).toContain('GRANT "grp" TO "app" GRANTED BY "postgres";');
    expect(result.sql).toContain('GRANT SET ON PARAMETER "log_statement" TO "app";');
    expect(result.sql).toContain('CREATE ROLE "tsdbadmin"');
  });

  it('still leaves postgres and the role we connect as alone', () => {
    expect(result.sql).not.toMatch(/(CREATE|ALTER) ROLE "postgres"/);
    expect(result.changes.filter((c) => c.action === 'removed')).toHaveLength(2);
  });

  it('drops memberships and grantors naming a role the target will not have', () => {
    const out = rewriteRoles(PG15_DUMP, { ...selfHosted, existingTargetRoles: [{ name: 'admin', superuser: true }] });
    // This target's superuser is "admin": there is no "postgres" to record as the grantor.
    expect(out.sql).toContain('GRANT "grp" TO "app";\n');
    expect(out.changes.find((c) => c.before.startsWith('GRANT "grp" TO "app"'))?.reason).toContain('grantor "postgres" does not exist');
  });
});

describe('PostgreSQL 16 membership options', () => {
  it('keeps WITH INHERIT/SET options and removes GRANTED BY for a managed target', () => {
    const out = rewriteRoles(PG16_GRANTS, managed);
    expect(out.sql).toContain('GRANT "grp" TO "app" WITH INHERIT TRUE;\n');
    expect(out.sql).toContain('GRANT "grp" TO "ops" WITH ADMIN OPTION, INHERIT FALSE, SET FALSE;\n');
    expect(out.sql).toContain('GRANT "app" TO "ops" WITH INHERIT TRUE;\n');
  });

  it('keeps everything for a superuser target', () => {
    const out = rewriteRoles(PG16_GRANTS, selfHosted);
    expect(out.sql).toContain('GRANT "grp" TO "ops" WITH ADMIN OPTION, INHERIT FALSE, SET FALSE GRANTED BY "postgres";');
    expect(out.sql).toContain('GRANT "app" TO "ops" WITH INHERIT TRUE GRANTED BY "ops";');
  });

  it('drops INHERIT/SET for a PostgreSQL 15 target, keeping ADMIN OPTION', () => {
    const out = rewriteRoles(PG16_GRANTS, { ...selfHosted, targetMajor: 15 });
    expect(out.sql).toContain('GRANT "grp" TO "app" GRANTED BY "postgres";');
    expect(out.sql).toContain('GRANT "grp" TO "ops" WITH ADMIN OPTION GRANTED BY "postgres";');
  });
});

describe('CREATE ROLE for roles that may exist already', () => {
  it('wraps every CREATE ROLE in a DO block that skips duplicates', () => {
    const out = rewriteRoles(PG16_GRANTS, selfHosted);
    expect(out.sql).toContain(`DO $migrate$ BEGIN CREATE ROLE "grp"; EXCEPTION WHEN duplicate_object THEN RAISE NOTICE 'role % already exists, skipping', '"grp"'; END $migrate$;`);
    expect(out.changes.filter((c) => c.reason === CREATE_IF_MISSING_REASON)).toHaveLength(3);
  });

  it('picks a dollar tag that does not occur in the role name', () => {
    const block = createIfMissing('CREATE ROLE "a$migrate$b";', 'a$migrate$b');
    expect(block.startsWith('DO $migrate1$ ')).toBe(true);
    expect(block.endsWith(' $migrate1$;')).toBe(true);
    const body = block.slice('DO $migrate1$'.length, -'$migrate1$;'.length);
    expect(body).not.toContain('$migrate1$');
  });

  it('quotes names with quotes, spaces and percent signs in the notice', () => {
    const block = createIfMissing(`CREATE ROLE "it's ""100%""";`, `it's "100%"`);
    expect(block).toContain(`RAISE NOTICE 'role % already exists, skipping', '"it''s ""100%"""';`);
  });

  it('adds the semicolon a last statement may lack', () => {
    expect(rewriteRoles('CREATE ROLE "x"', selfHosted).sql).toContain('BEGIN CREATE ROLE "x"; EXCEPTION');
  });
});

describe('maskPasswords', () => {
  it('masks PASSWORD literals and bare verifiers', () => {
    expect(maskPasswords(`ALTER ROLE "a" WITH LOGIN PASSWORD '${HASH_APP}';`)).toBe(`ALTER ROLE "a" WITH LOGIN PASSWORD '***';`);
    expect(maskPasswords(`password 'it''s secret'`)).toBe(`password '***'`);
    expect(maskPasswords(`psql:roles.sql:9: ERROR: x\n${HASH_APP} ${HASH_ADMIN}`)).toBe('psql:roles.sql:9: ERROR: x\n*** ***');
  });
});
