import type { ControlDeps, RequestContext } from '../control/context.js';
import { findComponent, findEnvironment } from '../control/lookups.js';
import { readInOrg } from '../control/org-access.js';
import { invalid } from '../domain/errors.js';
import { parseLogTime } from './log-cursor.js';

/** DORA figures of one component in one environment over a window (docs/observability.md, "Insights"). */
export interface Insights {
  component: string;
  environment: string;
  since: string;
  until: string;
  deploymentFrequency: { deployments: number; perDay: number; perWeek: number };
  /** Commit (committer time) → active in this environment, over deployments whose build has a commit time. */
  leadTimeForChange: { measured: number; medianSeconds: number | null; p95Seconds: number | null };
  /** Changes = deployments that became active (rollbacks and redeploys aside) or failed; failures = failed + rolled back. */
  changeFailureRate: { changes: number; failed: number; rolledBack: number; rate: number | null };
  /** From a failure to the next deployment that became active in this environment. */
  timeToRestore: { failures: number; restored: number; medianSeconds: number | null };
}

const MAX_DAYS = 365;
const DAY_MS = 86_400_000;

interface Row {
  id: string;
  status: string;
  action: string | null;
  created_at: Date;
  updated_at: Date;
  activated_at: Date | null;
  committed_at: Date | null;
}

/** When a deployment became active; deployments from before activation times were kept use their creation. */
function activation(r: Row): Date | null {
  if (r.status !== 'active' && r.status !== 'superseded') return null;
  return r.activated_at ?? (r.status === 'active' ? r.updated_at : r.created_at);
}

export function percentile(values: readonly number[], p: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  // Nearest rank: the smallest value with at least p% of the values at or below it.
  return sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

/** The figures from rows of one (component, environment), oldest first; pure, for tests and the API. */
export function computeInsights(rows: readonly Row[], since: Date, until: Date) {
  const inWindow = (d: Date | null) => d !== null && d >= since && d <= until;
  const activated = rows
    .map((r) => ({ r, at: activation(r) }))
    .filter((x): x is { r: Row; at: Date } => x.at !== null)
    .sort((a, b) => a.at.getTime() - b.at.getTime());
  const deployed = activated.filter((x) => inWindow(x.at));
  // Rollbacks and redeploys bring back what ran before: remedies, not changes.
  const isChange = (r: Row) => r.action !== 'rollback' && r.action !== 'redeploy';
  const leadSeconds = deployed
    .filter((x) => isChange(x.r) && x.r.committed_at && x.r.committed_at <= x.at)
    .map((x) => (x.at.getTime() - x.r.committed_at!.getTime()) / 1000);
  const nextActive = (after: Date) => activated.find((x) => x.at > after);

  const restores: number[] = [];
  let failures = 0;
  let failed = 0;
  let rolledBack = 0;
  for (const f of rows.filter((r) => r.status === 'failed' && inWindow(r.updated_at))) {
    failed++;
    failures++;
    const next = nextActive(f.updated_at);
    if (next) restores.push((next.at.getTime() - f.updated_at.getTime()) / 1000);
  }
  // A deployment is rolled back when the next one to become active after it is a rollback.
  for (const x of deployed) {
    const next = nextActive(x.at);
    if (next?.r.action !== 'rollback') continue;
    rolledBack++;
    failures++;
    restores.push((next.at.getTime() - x.at.getTime()) / 1000);
  }
  const changes = deployed.filter((x) => isChange(x.r)).length + failed;
  const days = Math.max((until.getTime() - since.getTime()) / DAY_MS, 1 / 24);
  const round = (n: number | null, digits = 1) => (n === null ? null : Number(n.toFixed(digits)));
  return {
    deploymentFrequency: {
      deployments: deployed.length,
      perDay: round(deployed.length / days, 3)!,
      perWeek: round((deployed.length / days) * 7, 3)!,
    },
    leadTimeForChange: {
      measured: leadSeconds.length,
      medianSeconds: round(percentile(leadSeconds, 50)),
      p95Seconds: round(percentile(leadSeconds, 95)),
    },
    changeFailureRate: {
      changes,
      failed,
      rolledBack,
      rate: changes === 0 ? null : round((failed + rolledBack) / changes, 3),
    },
    timeToRestore: { failures, restored: restores.length, medianSeconds: round(percentile(restores, 50)) },
  };
}

/**
 * DORA figures of a component from Rondo's own records. Without `environment`, the last
 * environment of the project's pipeline (its production end) is the one that counts.
 */
export async function componentInsights(
  deps: ControlDeps,
  ctx: RequestContext,
  orgName: string,
  project: string,
  component: string,
  query: { environment?: string; since?: string },
): Promise<Insights> {
  const now = deps.now?.() ?? new Date();
  const since =
    query.since === undefined
      ? new Date(now.getTime() - 30 * DAY_MS)
      : parseLogTime(query.since, now.getTime());
  if (!since || since >= now || since.getTime() < now.getTime() - MAX_DAYS * DAY_MS - 60_000)
    throw invalid([
      {
        field: 'since',
        message: `give a duration back from now (7d, 30d, at most ${MAX_DAYS}d) or an ISO time in the last ${MAX_DAYS} days`,
      },
    ]);
  const { org } = await readInOrg(deps, ctx, orgName);
  const { db } = deps.store;
  const c = await findComponent(db, org.id, project, component);
  let envName = query.environment;
  if (envName === undefined) {
    const pipeline = await db
      .selectFrom('pipelines')
      .select('environment_ids')
      .where('id', '=', c.pipeline_id)
      .executeTakeFirstOrThrow();
    const last = pipeline.environment_ids.at(-1);
    const env = last
      ? await db.selectFrom('environments').select('name').where('id', '=', last).executeTakeFirst()
      : undefined;
    if (!env)
      throw invalid([
        { field: 'environment', message: 'the project’s pipeline is empty; name an environment' },
      ]);
    envName = env.name;
  }
  const env = await findEnvironment(db, org.id, envName);
  // From a day before the window: a failure just inside it may be restored by what follows, and a
  // deployment active at its start may be rolled back inside it.
  const rows = await db
    .selectFrom('deployments as d')
    .leftJoin('releases as r', 'r.id', 'd.release_id')
    .leftJoin('builds as b', 'b.id', 'r.build_id')
    .select([
      'd.id',
      'd.status',
      'd.action',
      'd.created_at',
      'd.updated_at',
      'd.activated_at',
      'b.committed_at',
    ])
    .where('d.component_id', '=', c.id)
    .where('d.environment_id', '=', env.id)
    .where('d.updated_at', '>=', new Date(since.getTime() - DAY_MS))
    .orderBy('d.created_at')
    .execute();
  return {
    component: `${project}/${component}`,
    environment: env.name,
    since: since.toISOString(),
    until: now.toISOString(),
    ...computeInsights(rows, since, now),
  };
}
