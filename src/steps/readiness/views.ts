/**
 * Plain materialized views over the backfilled tables (directly or through views): the backfill
 * refreshes them once every slice is done. Each must be populated on the target now, and the last
 * backfill must not have reported a refresh that failed (the view then kept its old contents).
 */
import * as z from 'zod';
import { displayName, quoteQualified, sameTable } from '../../core/identifiers.js';
import { dependentMaterializedViews, refreshSql } from '../backfill/materialized-views.js';
import { capped, type Check, type Scope } from './types.js';

const failuresSchema = z.object({ viewRefreshFailures: z.array(z.object({ view: z.string(), reason: z.string() })) });

export async function checkMaterializedViews(scope: Scope): Promise<Check> {
  const base = { id: 'materialized-views', title: 'materialized views refreshed' };
  const views = await dependentMaterializedViews(scope.target, scope.tables.map((t) => t.pair.spec));
  if (views.length === 0) return { ...base, status: 'ok', detail: 'no materialized view reads the backfilled tables' };
  const { rows } = await scope.target.query<{ schema: string; name: string }>(
    `SELECT n.nspname AS schema, c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.oid = ANY($1::regclass[]) AND NOT c.relispopulated`, [views.map(quoteQualified)]);
  const empty = views.filter((v) => rows.some((r) => sameTable(v, { schema: r.schema, table: r.name })));
  const parsed = failuresSchema.safeParse(scope.state?.steps.backfill?.outcome);
  const failed = parsed.success ? parsed.data.viewRefreshFailures : [];
  const problems = [
    ...empty.map((v) => `${displayName(v)} is not populated`),
    ...failed.map((f) => `${f.view}: the backfill's refresh failed (${f.reason}); it kept its old contents`),
  ];
  if (problems.length === 0) return { ...base, status: 'ok', detail: `${views.length} view(s) populated: ${capped(views.map(displayName), 5)}` };
  // In dependency order, as the backfill refreshes them.
  const toRefresh = views.filter((v) => empty.includes(v) || failed.some((f) => f.view === displayName(v)));
  return { ...base, status: 'fail', detail: capped(problems),
    fix: `On the target${failed.length > 0 ? ` (fix a failing view's query first; afterwards \`${scope.command('backfill')}\` ` +
      'refreshes them again and records it)' : ''}:\n` +
      toRefresh.map((v) => `${refreshSql(v)};`).join('\n') };
}
