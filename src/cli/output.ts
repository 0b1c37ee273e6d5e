import { createRequire } from 'node:module';
import { escapeControlCharacters } from '../domain/text.js';

// yaml loads only for -o yaml: every CLI start would pay for it otherwise.
const yaml = () => createRequire(import.meta.url)('yaml') as typeof import('yaml');

export type OutputFormat = 'table' | 'json' | 'yaml';

export interface Column<T> {
  header: string;
  value: (row: T) => string;
}

/**
 * What a person's terminal shows of a value: records from before the single-line checks and
 * text from outside (repositories, engines) may carry newlines or ANSI escape sequences that
 * would forge rows or rewrite the screen, so table output shows them escaped (`\x1b`).
 */
function forTerminal(value: unknown): unknown {
  if (typeof value === 'string') return escapeControlCharacters(value);
  if (Array.isArray(value)) return value.map(forTerminal);
  if (value !== null && typeof value === 'object')
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [escapeControlCharacters(k), forTerminal(v)]),
    );
  return value;
}

/** Prints rows as an aligned table, or the raw API shapes as JSON/YAML (what the API returns). */
export function printList<T>(
  format: OutputFormat,
  rows: T[],
  columns: Column<T>[],
  raw: unknown = rows,
): void {
  if (format !== 'table') {
    printObject(format, raw);
    return;
  }
  if (rows.length === 0) {
    process.stdout.write('No resources found.\n');
    return;
  }
  const cells = rows.map((r) => columns.map((c) => escapeControlCharacters(c.value(r))));
  const widths = columns.map((c, i) => Math.max(c.header.length, ...cells.map((row) => row[i]!.length)));
  const line = (values: string[]) =>
    values
      .map((v, i) => v.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  process.stdout.write(
    `${[line(columns.map((c) => c.header.toUpperCase())), ...cells.map(line)].join('\n')}\n`,
  );
}

/** Prints one resource: `key: value` lines for tables, the API shape for JSON/YAML. */
export function printObject(format: OutputFormat, value: unknown, fields?: [string, string][]): void {
  if (format === 'json') process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
  else if (format === 'yaml') process.stdout.write(yaml().stringify(value));
  else if (fields) {
    const width = Math.max(...fields.map(([k]) => k.length)) + 1;
    process.stdout.write(
      `${fields.map(([k, v]) => `${`${k}:`.padEnd(width)} ${escapeControlCharacters(v)}`).join('\n')}\n`,
    );
  } else process.stdout.write(yaml().stringify(forTerminal(value)));
}
