import { type RawBuilder, sql } from 'kysely';

/** A column to insert and its SQL type, for the arrays `unnest` reads. */
export type Column<R> = readonly [keyof R & string, string];

/**
 * `insert into <table> (…) select * from unnest(…)`: one array parameter per column, so the store
 * parses a dozen parameters, not a dozen per row (most of a batch's cost on PGlite). Made to sit
 * in a `with` beside the collector's position update, so a batch is one statement.
 */
export function unnestInsert<R extends object>(
  table: string,
  columns: readonly Column<R>[],
  rows: readonly R[],
): RawBuilder<unknown> {
  const arrays = columns.map(
    ([column, type]) =>
      sql`${rows.map((r) => (r as Record<string, unknown>)[column] ?? null)}::${sql.raw(type)}[]`,
  );
  return sql`insert into ${sql.table(table)} (${sql.join(columns.map(([c]) => sql.ref(c)))})
    select * from unnest(${sql.join(arrays)})`;
}
