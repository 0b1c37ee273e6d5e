import { type Kysely, sql } from 'kysely';
import type { RequestContext } from '../control/context.js';
import { invalid } from '../domain/errors.js';
import type { LogDatabase } from '../store/schema.js';
import { isoFromMicros } from './log-cursor.js';
import {
  checkFilter,
  followStream,
  keysetPage,
  type RuntimeLogDeps,
  type RuntimeLogFilter,
  resolveScope,
  type Scope,
} from './runtime-logs.js';

/** One request the gateway answered for the component, as the API answers it (Choreo's gateway log fields). */
export interface GatewayLogLine {
  timestamp: string;
  method: string;
  /** The path the client asked for, without its query string. */
  path: string;
  status: number;
  /** The gateway outcome code of §7: BACKEND_RESPONSE, NO_HEALTHY_BACKEND, RESOURCE_NOT_FOUND, … */
  outcome: string;
  durationMs: number;
  bytes: number;
  requestId: string;
  /** The deployment whose replicas answered, when the gateway knew it, and its release. */
  deployment: string | null;
  release: string | null;
}

/** Application-only filters are refused for gateway logs rather than silently ignored. */
function checkGatewayFilter(f: RuntimeLogFilter): void {
  const problems = (['level', 'replica'] as const)
    .filter((k) => f[k] !== undefined)
    .map((field) => ({
      field,
      message:
        'applies to application logs only; leave it out with type=gateway (grep a status or path instead)',
    }));
  if (problems.length) throw invalid(problems);
}

type Checked = ReturnType<typeof checkFilter>;

function requestsOf(db: Kysely<LogDatabase>, scope: Scope, f: RuntimeLogFilter, checked: Checked) {
  let q = db
    .selectFrom('gateway_requests')
    .select([
      sql<string>`id::text`.as('id'),
      sql<string>`at_us::text`.as('at_us'),
      'method',
      'path',
      'status',
      'outcome',
      'duration_ms',
      sql<string>`bytes::text`.as('bytes'),
      'request_id',
      'deployment',
    ])
    .where('component_id', '=', scope.componentId)
    .where('environment_id', '=', scope.environmentId)
    .where('at_us', '>=', checked.sinceUs);
  if (checked.untilUs) q = q.where('at_us', '<', checked.untilUs);
  if (f.deployment !== undefined) {
    const name = f.deployment;
    q = q.where((eb) =>
      eb.or([eb('deployment', '=', name), eb(sql<string>`split_part(deployment, '.', 1)`, '=', name)]),
    );
  }
  // The grep sees the line as the CLI prints it: method, path, status, outcome, request id.
  if (f.grep)
    q = q.where(
      sql<boolean>`strpos(lower(method || ' ' || path || ' ' || status::text || ' ' || outcome || ' ' || request_id), lower(${f.grep})) > 0`,
    );
  return q;
}

type Row = Awaited<ReturnType<ReturnType<typeof requestsOf>['execute']>>[number];

function toLine(r: Row): GatewayLogLine {
  return {
    timestamp: isoFromMicros(r.at_us),
    method: r.method,
    path: r.path,
    status: r.status,
    outcome: r.outcome,
    durationMs: Math.round(r.duration_ms * 1000) / 1000,
    bytes: Number(r.bytes),
    requestId: r.request_id,
    deployment: r.deployment,
    release: r.deployment ? (r.deployment.split('.')[0] ?? r.deployment) : null,
  };
}

/** A page of a component's gateway log in one environment; paging as `queryRuntimeLogs`. */
export async function queryGatewayLogs(
  deps: RuntimeLogDeps,
  ctx: RequestContext,
  orgName: string,
  project: string,
  component: string,
  f: RuntimeLogFilter,
): Promise<{ items: GatewayLogLine[]; nextCursor: string | null }> {
  const checked = checkFilter(f, deps.retentionDays, (deps.now?.() ?? new Date()).getTime());
  checkGatewayFilter(f);
  const scope = await resolveScope(deps, ctx, orgName, project, component, f.environment);
  return keysetPage(
    checked,
    ({ after, order, limit }) => {
      const q = requestsOf(deps.store.logs.db, scope, f, checked);
      return (after ? q.where(after) : q).orderBy('at_us', order).orderBy('id', order).limit(limit).execute();
    },
    toLine,
  );
}

/** The follow stream of a component's gateway log: as `followRuntimeLogs`, one JSON line per request. */
export async function* followGatewayLogs(
  deps: RuntimeLogDeps,
  ctx: RequestContext,
  orgName: string,
  project: string,
  component: string,
  f: RuntimeLogFilter,
  signal: AbortSignal,
): AsyncGenerator<string> {
  const checked = checkFilter(f, deps.retentionDays, (deps.now?.() ?? new Date()).getTime());
  checkGatewayFilter(f);
  const scope = await resolveScope(deps, ctx, orgName, project, component, f.environment);
  yield* followStream(
    deps.store.logs.db,
    'gateway_requests',
    f.since === undefined,
    checked.limit,
    (where, byTime, order, limit) => {
      const q = requestsOf(deps.store.logs.db, scope, f, checked).where(where);
      return (byTime ? q.orderBy('at_us', order) : q).orderBy('id', order).limit(limit).execute();
    },
    toLine,
    deps.gatewayChanges ?? deps.changes,
    signal,
  );
}
