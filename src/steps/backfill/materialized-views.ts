/**
 * Plain materialized views over backfilled tables. The schema load refreshed them over tables that
 * were still empty (or held only dual-written rows), and nothing refreshes them after: an application
 * switched to the target would read them stale. So once every slice is done, each materialized view
 * that depends on a backfilled table — directly, or through views and other materialized views — is
 * refreshed, those it depends on first. Continuous aggregates are not among them (they are views on
 * the user's side; continuous-aggregates.ts refreshes them).
 */
import type { Emit } from '../../core/context.js';
import type { Client } from '../../core/db.js';
import { describeError } from '../../core/errors.js';
import { displayName, quoteQualified, type QualifiedName } from '../../core/identifiers.js';

// Walk the rewrite-rule dependencies outwards from the tables: a view's or materialized view's rule
// depends on every relation its query reads. The deepest path to a view orders the refreshes.
const DEPENDENT_VIEWS_SQL = `
WITH RECURSIVE dependents(oid, depth) AS (
  SELECT r.ev_class, 1
    FROM pg_depend d JOIN pg_rewrite r ON r.oid = d.objid
   WHERE d.classid = 'pg_rewrite'::regclass AND d.refclassid = 'pg_class'::regclass
     AND d.refobjid = ANY($1::regclass[]) AND r.ev_class <> d.refobjid
  UNION
  SELECT r.ev_class, dependents.depth + 1
    FROM dependents JOIN pg_depend d ON d.refobjid = dependents.oid
     AND d.classid = 'pg_rewrite'::regclass AND d.refclassid = 'pg_class'::regclass
    JOIN pg_rewrite r ON r.oid = d.objid
   WHERE r.ev_class <> d.refobjid AND dependents.depth < 64
)
SELECT n.nspname AS schema, c.relname AS name, max(depth) AS depth
  FROM dependents JOIN pg_class c ON c.oid = dependents.oid JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relkind = 'm'
 GROUP BY 1, 2 ORDER BY 3, 1, 2`;

export async function dependentMaterializedViews(client: Client, tables: QualifiedName[]): Promise<QualifiedName[]> {
  if (tables.length === 0) return [];
  const { rows } = await client.query<{ schema: string; name: string }>(DEPENDENT_VIEWS_SQL, [tables.map(quoteQualified)]);
  return rows.map((r) => ({ schema: r.schema, table: r.name }));
}

export function refreshSql(view: QualifiedName): string {
  return `REFRESH MATERIALIZED VIEW ${quoteQualified(view)}`;
}

export interface ViewRefreshes {
  refreshed: string[];
  /** Views whose query fails over the full data (it would on the source too): they keep their old contents. */
  failed: { view: string; reason: string }[];
}

/**
 * Refresh them in dependency order. A view whose refresh fails does not fail the backfill (its rows
 * are all there, and the same query over the same rows fails on the source too): it is reported with
 * the reason, keeps its previous contents, and the others are still refreshed.
 */
export async function refreshMaterializedViews(client: Client, tables: QualifiedName[], emit: Emit): Promise<ViewRefreshes> {
  const views = await dependentMaterializedViews(client, tables);
  const result: ViewRefreshes = { refreshed: [], failed: [] };
  if (views.length === 0) return result;
  emit({ type: 'info', message: `Refreshing ${views.length} materialized view${views.length === 1 ? '' : 's'} that read the backfilled ` +
    'tables (their contents were computed before the backfill):', detail: views.map(displayName) });
  for (const view of views) {
    try {
      await client.query(refreshSql(view));
      result.refreshed.push(displayName(view));
    } catch (error) {
      const reason = describeError(error).split('\n')[0] ?? String(error);
      result.failed.push({ view: displayName(view), reason });
      emit({ type: 'warn', message: `The materialized view ${displayName(view)} could not be refreshed: ${reason}. The backfilled ` +
        'rows are all there; the view keeps its previous contents.', detail: [
        `Its query fails over the full data (on the source too): fix the view, then run ${refreshSql(view)}; on the target.`] });
    }
  }
  return result;
}
