/** Plain-text tables for list output (candidates, preflight, status, validate, the wizard): no CLI dependency, so steps and the wizard may use it. */

export interface Column<T> {
  header: string;
  value: (row: T) => string;
  align?: 'left' | 'right';
}

export function formatTable<T>(rows: T[], columns: Column<T>[]): string {
  const cells = rows.map((row) => columns.map((column) => column.value(row)));
  const widths = columns.map((column, i) =>
    Math.max(column.header.length, ...cells.map((r) => Math.max(...(r[i] ?? '').split('\n').map((l) => l.length)))));
  const pad = (text: string, i: number): string =>
    columns[i]?.align === 'right' ? text.padStart(widths[i] ?? 0) : text.padEnd(widths[i] ?? 0);
  const lines = [
    columns.map((c, i) => pad(c.header, i)).join('  ').trimEnd(),
    widths.map((w) => '-'.repeat(w)).join('  '),
    ...cells.map((r) => r.map((cell, i) => pad(cell, i)).join('  ').trimEnd()),
  ];
  return lines.join('\n');
}

/** 1536 → "1.5 kB", using powers of 1024 as PostgreSQL's pg_size_pretty does. */
export function formatBytes(bytes: number): string {
  const units = ['bytes', 'kB', 'MB', 'GB', 'TB', 'PB'];
  let value = bytes;
  let unit = 0;
  while (Math.abs(value) >= 1024 && unit < units.length - 1) { value /= 1024; unit += 1; }
  return unit === 0 ? `${value} bytes` : `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}
