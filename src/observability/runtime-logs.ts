import { type Kysely, type RawBuilder, sql } from 'kysely';
import type { ControlDeps, RequestContext } from '../control/context.js';
import { findComponent, findEnvironment } from '../control/lookups.js';
import { readInOrg } from '../control/org-access.js';
import { type FieldError, invalid } from '../domain/errors.js';
import type { LogDatabase } from '../store/schema.js';
import type { LogChanges } from './log-changes.js';
import { decodeCursor, encodeCursor, isoFromMicros, type LogPosition, parseLogTime } from './log-cursor.js';
import { LOG_LEVELS, type LogLevel } from './log-levels.js';

/** What the runtime log queries need besides the store. */
export interface RuntimeLogDeps extends ControlDeps {
  /** Lines older than this many days are deleted (`RONDO_LOG_RETENTION_DAYS`). */
  retentionDays: number;
  changes: LogChanges;
  /** Wakes gateway log followers when the gateway log collector stored a batch. */
  gatewayChanges?: LogChanges;
}

/** One stored line as the API answers it. */
export interface RuntimeLogLine {
  timestamp: string;
  stream: 'stdout' | 'stderr';
  level: LogLevel | null;
  message: string;
  replica: string;
  /** The deployment that wrote it (`<release>.<configRevision>.<deployCount>`) and its release. */
  deployment: string;
  release: string;
}

export interface RuntimeLogFilter {
  environment: string;
  since?: string;
  until?: string;
  replica?: string;
  /** A deployment name, or a release name (all its deployments). */
  deployment?: string;
  /** One or more levels, comma-separated: `error` or `error,warn`. */
  level?: string;
  /** Case-insensitive text the message contains. */
  grep?: string;
  limit?: number;
  cursor?: string;
  /** `forward`: the oldest lines of the range first; `backward` (default): the newest. */
  direction?: 'forward' | 'backward';
}

export interface Checked {
  sinceUs: string;
  untilUs: string | undefined;
  levels: LogLevel[] | undefined;
  position: LogPosition | undefined;
  direction: 'forward' | 'backward';
  limit: number;
}

const US_PER_MS = 1000n;
const toUs = (d: Date) => (BigInt(d.getTime()) * US_PER_MS).toString();

/** The filter's times, levels and cursor, or a 400 naming each field at fault. */
export function checkFilter(f: RuntimeLogFilter, retentionDays: number, now = Date.now()): Checked {
  const problems: FieldError[] = [];
  const timeHint = 'give a time (2026-11-30T10:00:00Z) or a duration back from now (30m, 6h, 7d)';
  const oldest = new Date(now - retentionDays * 86_400_000);
  const since = f.since === undefined ? oldest : parseLogTime(f.since, now);
  const until = f.until === undefined ? undefined : parseLogTime(f.until, now);
  if (!since) problems.push({ field: 'since', message: timeHint });
  else if (since.getTime() < oldest.getTime() - 60_000)
    problems.push({
      field: 'since',
      message: `is beyond the ${retentionDays}-day retention of runtime logs; give ${oldest.toISOString()} or later`,
    });
  if (f.until !== undefined && !until) problems.push({ field: 'until', message: timeHint });
  if (since && until && until.getTime() <= since.getTime())
    problems.push({ field: 'until', message: 'must be after since' });
  let levels: LogLevel[] | undefined;
  if (f.level !== undefined) {
    const asked = f.level.split(',').map((l) => l.trim().toLowerCase());
    const unknown = asked.filter((l) => !(LOG_LEVELS as readonly string[]).includes(l));
    if (unknown.length || asked.length === 0)
      problems.push({
        field: 'level',
        message: `use one or more of ${LOG_LEVELS.join(', ')}, comma-separated`,
      });
    else levels = asked as LogLevel[];
  }
  if (f.replica !== undefined && !/^\d{1,4}$/.test(f.replica))
    problems.push({ field: 'replica', message: 'is a replica number: 0, 1, …' });
  const position = f.cursor === undefined ? undefined : decodeCursor(f.cursor);
  if (f.cursor !== undefined && !position)
    problems.push({
      field: 'cursor',
      message: 'is not a cursor from a previous page; leave it out to start over',
    });
  if (problems.length) throw invalid(problems);
  return {
    sinceUs: toUs(since!),
    untilUs: until ? toUs(until) : undefined,
    levels,
    position,
    direction: position?.direction ?? f.direction ?? 'backward',
    limit: f.limit ?? 100,
  };
}

export interface Scope {
  componentId: string;
  environmentId: string;
}

/** The component and environment a log query reads, or 404 (another organization's included). */
export async function resolveScope(
  deps: RuntimeLogDeps,
  ctx: RequestContext,
  orgName: string,
  project: string,
  component: string,
  environment: string,
): Promise<Scope> {
  const { org } = await readInOrg(deps, ctx, orgName);
  const c = await findComponent(deps.store.db, org.id, project, component);
  const e = await findEnvironment(deps.store.db, org.id, environment);
  return { componentId: c.id, environmentId: e.id };
}

function linesOf(db: Kysely<LogDatabase>, scope: Scope, f: RuntimeLogFilter, checked: Checked) {
  let q = db
    .selectFrom('runtime_logs')
    .select([
      sql<string>`id::text`.as('id'),
      sql<string>`at_us::text`.as('at_us'),
      'stream',
      'level',
      'message',
      'replica',
      'deployment',
    ])
    .where('component_id', '=', scope.componentId)
    .where('environment_id', '=', scope.environmentId)
    .where('at_us', '>=', checked.sinceUs);
  if (checked.untilUs) q = q.where('at_us', '<', checked.untilUs);
  if (checked.levels) q = q.where('level', 'in', checked.levels);
  if (f.replica !== undefined) q = q.where('replica', '=', f.replica);
  if (f.deployment !== undefined) {
    const name = f.deployment;
    q = q.where((eb) =>
      eb.or([eb('deployment', '=', name), eb(sql<string>`split_part(deployment, '.', 1)`, '=', name)]),
    );
  }
  // strpos, not LIKE: the text is the user's, and % or _ in it mean themselves.
  if (f.grep) q = q.where(sql<boolean>`strpos(lower(message), lower(${f.grep})) > 0`);
  return q;
}

type Row = Awaited<ReturnType<ReturnType<typeof linesOf>['execute']>>[number];

function toLine(r: Row): RuntimeLogLine {
  return {
    timestamp: isoFromMicros(r.at_us),
    stream: r.stream === 'stderr' ? 'stderr' : 'stdout',
    level: (r.level as LogLevel | null) ?? null,
    message: r.message,
    replica: r.replica,
    deployment: r.deployment,
    release: r.deployment.split('.')[0] ?? r.deployment,
  };
}

/** How a keyset page asks its table: after `position` (if any), in `order`, at most `limit` rows. */
export interface PageRequest {
  after: RawBuilder<boolean> | undefined;
  order: 'asc' | 'desc';
  limit: number;
}

/**
 * One page by (at_us, id), shared by the runtime and gateway logs: one row more than the limit says
 * whether there is a next page; backward pages are read newest first and returned oldest first.
 */
export async function keysetPage<R extends { at_us: string; id: string }, L>(
  checked: Checked,
  read: (page: PageRequest) => Promise<R[]>,
  toLine: (r: R) => L,
): Promise<{ items: L[]; nextCursor: string | null }> {
  const forward = checked.direction === 'forward';
  const p = checked.position;
  const after = p
    ? forward
      ? sql<boolean>`(at_us, id) > (${p.atUs}::bigint, ${p.id}::bigint)`
      : sql<boolean>`(at_us, id) < (${p.atUs}::bigint, ${p.id}::bigint)`
    : undefined;
  const rows = await read({ after, order: forward ? 'asc' : 'desc', limit: checked.limit + 1 });
  const more = rows.length > checked.limit;
  const page = rows.slice(0, checked.limit);
  const last = page.at(-1);
  if (!forward) page.reverse();
  return {
    items: page.map(toLine),
    nextCursor:
      more && last ? encodeCursor({ atUs: last.at_us, id: last.id, direction: checked.direction }) : null,
  };
}

/**
 * A page of a component's runtime log in one environment, oldest line first. Backward pages (the
 * default) hold the newest lines of the range and their cursor leads to older ones; forward pages
 * start at `since` and lead to newer ones.
 */
export async function queryRuntimeLogs(
  deps: RuntimeLogDeps,
  ctx: RequestContext,
  orgName: string,
  project: string,
  component: string,
  f: RuntimeLogFilter,
): Promise<{ items: RuntimeLogLine[]; nextCursor: string | null }> {
  const checked = checkFilter(f, deps.retentionDays, (deps.now?.() ?? new Date()).getTime());
  const scope = await resolveScope(deps, ctx, orgName, project, component, f.environment);
  return keysetPage(
    checked,
    ({ after, order, limit }) => {
      const q = linesOf(deps.store.logs.db, scope, f, checked);
      return (after ? q.where(after) : q).orderBy('at_us', order).orderBy('id', order).limit(limit).execute();
    },
    toLine,
  );
}

/**
 * The follow stream, one JSON line per log line: the newest `limit` lines of the range (or, with
 * `since`, the first `limit` lines from its start), then lines as the collector stores them, until `signal`.
 * Live lines come in the order they are stored, which is per replica the order they were printed.
 */
export async function* followRuntimeLogs(
  deps: RuntimeLogDeps,
  ctx: RequestContext,
  orgName: string,
  project: string,
  component: string,
  f: RuntimeLogFilter,
  signal: AbortSignal,
): AsyncGenerator<string> {
  const checked = checkFilter(f, deps.retentionDays, (deps.now?.() ?? new Date()).getTime());
  const scope = await resolveScope(deps, ctx, orgName, project, component, f.environment);
  yield* followStream(
    deps.store.logs.db,
    'runtime_logs',
    f.since === undefined,
    checked.limit,
    (where, byTime, order, limit) => {
      const q = linesOf(deps.store.logs.db, scope, f, checked).where(where);
      return (byTime ? q.orderBy('at_us', order) : q).orderBy('id', order).limit(limit).execute();
    },
    toLine,
    deps.changes,
    signal,
  );
}

/** How a follow stream reads its table: rows matching `where`, by (at_us, id) or by id alone. */
export type FollowRead<R> = (
  where: RawBuilder<boolean>,
  byTime: boolean,
  order: 'asc' | 'desc',
  limit: number,
) => Promise<R[]>;

/**
 * A follow stream, shared by the runtime and gateway logs: the first page of the range (the
 * newest `limit` rows when `backward`), then rows as they are stored, by id, until `signal`.
 */
export async function* followStream<R extends { id: string }, L>(
  db: Kysely<LogDatabase>,
  table: 'runtime_logs' | 'gateway_requests',
  backward: boolean,
  limit: number,
  read: FollowRead<R>,
  toLine: (r: R) => L,
  changes: LogChanges,
  signal: AbortSignal,
): AsyncGenerator<string> {
  // Taken before the first page: what is stored after it comes live, nothing is missed or doubled.
  const top = await sql<{ max: string | null }>`select max(id)::text as max from ${sql.table(table)}`.execute(
    db,
  );
  let after = top.rows[0]?.max ?? '0';
  const firstRows = await read(sql<boolean>`id <= ${after}::bigint`, true, backward ? 'desc' : 'asc', limit);
  if (backward) firstRows.reverse();
  // The answer starts at once (headers), even when there is nothing to show yet.
  yield '';
  for (const r of firstRows) yield `${JSON.stringify(toLine(r))}\n`;
  while (!signal.aborted) {
    const rows = await read(sql<boolean>`id > ${after}::bigint`, false, 'asc', 1000);
    for (const r of rows) yield `${JSON.stringify(toLine(r))}\n`;
    const newest = rows.at(-1);
    if (newest) after = newest.id;
    if (rows.length < 1000) await changes.next(1000, signal);
  }
}
