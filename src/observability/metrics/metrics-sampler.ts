import type { Logger } from 'pino';
import { Periodic } from '../../control/periodic.js';
import type { ReplicaStats } from '../../dataplane/driver.js';
import { isExecution, LABEL } from '../../dataplane/labels.js';
import type { DataPlaneRegistry } from '../../dataplane/registry.js';
import type { Store } from '../../store/store.js';
import type { ComponentLabels, ReplicaSample, RondoMetrics } from './rondo-metrics.js';

export interface MetricsSamplerDeps {
  store: Store;
  dataPlanes: Pick<DataPlaneRegistry, 'tryFor'>;
  instance: string;
  logger: Logger;
  metrics: RondoMetrics;
}

/** Store rows are looked back on this far, so a row committed a little after its time is still counted. */
const LOOKBACK_MS = 60_000;

/**
 * Feeds the per-component series of `/metrics` every `everyMs`: one reading of each running
 * replica from the data planes (CPU, memory, restarts), and from the store the task executions
 * that ended and the OOM kills recorded since the last pass. Counting starts when the control
 * plane starts (a counter that starts at zero; Prometheus' rate and increase read a restart as a
 * reset), so history is never counted twice. Sampling is apart from scraping: a slow engine
 * never slows `/metrics`, and several scrapers cost the engine nothing more.
 */
export class MetricsSampler {
  readonly #deps: MetricsSamplerDeps;
  readonly #periodic: Periodic;
  /** Owners of deployments by id; a deployment's owner never changes. */
  readonly #owners = new Map<string, ComponentLabels>();
  #since = new Date();
  /** Rows counted within the look-back window, by id. */
  #counted = new Map<string, number>();

  constructor(deps: MetricsSamplerDeps, everyMs = 5000) {
    this.#deps = deps;
    this.#periodic = new Periodic(
      () => this.sample(),
      everyMs,
      (err) => deps.logger.warn({ err: err instanceof Error ? err.message : err }, 'metrics sample failed'),
    );
  }

  start(): void {
    this.#since = new Date();
    this.#periodic.start();
  }

  stop(): Promise<void> {
    return this.#periodic.stop();
  }

  /** One pass (tests and the benchmark call it directly). */
  async sample(): Promise<void> {
    const [replicas] = await Promise.all([this.#sampleReplicas(), this.#countStoreRows()]);
    this.#deps.metrics.setReplicas(replicas);
  }

  async #sampleReplicas(): Promise<ReplicaSample[]> {
    const rows = await this.#deps.store.db
      .selectFrom('data_planes')
      .select(['id', 'type', 'config'])
      .execute();
    const stats: ReplicaStats[] = [];
    // Data planes are read at once, and one that fails (a cluster gone) leaves the others' series.
    const read = await Promise.all(
      rows.map(async (row) => {
        const dp = this.#deps.dataPlanes.tryFor(row);
        if (!dp?.observe.stats) return [];
        return dp.observe.stats({ [LABEL.instance]: this.#deps.instance }).catch((err: unknown) => {
          this.#deps.logger.warn(
            { dataPlane: row.id, err: err instanceof Error ? err.message : err },
            'reading replicas’ resources failed',
          );
          return [];
        });
      }),
    );
    for (const r of read) stats.push(...r);
    const replicas = stats.filter((s) => !isExecution(s) && s.labels[LABEL.replica] !== undefined);
    await this.#resolveOwners(replicas.map((s) => s.labels[LABEL.deployment] ?? ''));
    const out: ReplicaSample[] = [];
    for (const s of replicas) {
      const deployment = s.labels[LABEL.deployment] ?? '';
      const owner = this.#owners.get(deployment);
      if (!owner) continue;
      this.#deps.metrics.expectTraffic(owner);
      out.push({
        labels: { ...owner, deployment_id: deployment, replica: s.labels[LABEL.replica] ?? '' },
        ...(s.cpuSeconds !== undefined ? { cpuSeconds: s.cpuSeconds } : {}),
        ...(s.cpuMillicores !== undefined ? { cpuMillicores: s.cpuMillicores } : {}),
        memoryBytes: s.memoryBytes,
        restarts: s.restarts,
      });
    }
    return out;
  }

  async #resolveOwners(deploymentIds: string[]): Promise<void> {
    const unknown = [...new Set(deploymentIds)].filter((id) => id && !this.#owners.has(id));
    if (unknown.length === 0) return;
    const rows = await this.#deps.store.db
      .selectFrom('deployments as d')
      .innerJoin('components as c', 'c.id', 'd.component_id')
      .select(['d.id', 'd.org_id', 'c.project_id', 'd.component_id', 'd.environment_id'])
      .where('d.id', 'in', unknown)
      .execute();
    for (const r of rows)
      this.#owners.set(r.id, {
        org_id: r.org_id,
        project_id: r.project_id,
        component_id: r.component_id,
        environment_id: r.environment_id,
      });
  }

  async #countStoreRows(): Promise<void> {
    const now = Date.now();
    const from = new Date(Math.max(this.#since.getTime(), now - LOOKBACK_MS));
    const db = this.#deps.store.db;
    const [executions, ooms] = await Promise.all([
      db
        .selectFrom('executions as x')
        .innerJoin('components as c', 'c.id', 'x.component_id')
        .select([
          'x.id',
          'x.org_id',
          'c.project_id',
          'x.component_id',
          'x.environment_id',
          'x.status',
          'x.started_at',
          'x.finished_at',
        ])
        .where('x.finished_at', '>=', from)
        .where('x.status', '!=', 'running')
        .execute(),
      db
        .selectFrom('deployment_events as e')
        .innerJoin('deployments as d', 'd.id', 'e.deployment_id')
        .innerJoin('components as c', 'c.id', 'd.component_id')
        .select(['e.id', 'd.org_id', 'c.project_id', 'd.component_id', 'd.environment_id'])
        .where('e.kind', '=', 'oom-killed')
        .where('e.created_at', '>=', from)
        .execute(),
    ]);
    const { metrics } = this.#deps;
    for (const x of executions) {
      if (!this.#firstTime(`x:${x.id}`, now)) continue;
      const labels = ownerOf(x);
      metrics.executions.inc({ ...labels, status: x.status });
      if (x.started_at && x.finished_at)
        metrics.executionDuration.observe(
          labels,
          Math.max(0, new Date(x.finished_at).getTime() - new Date(x.started_at).getTime()) / 1000,
        );
    }
    for (const e of ooms) if (this.#firstTime(`e:${e.id}`, now)) metrics.oomKills.inc(ownerOf(e));
    for (const [key, at] of this.#counted) if (at < now - 2 * LOOKBACK_MS) this.#counted.delete(key);
  }

  #firstTime(key: string, now: number): boolean {
    if (this.#counted.has(key)) return false;
    this.#counted.set(key, now);
    return true;
  }
}

function ownerOf(r: { org_id: string; project_id: string; component_id: string; environment_id: string }) {
  return {
    org_id: r.org_id,
    project_id: r.project_id,
    component_id: r.component_id,
    environment_id: r.environment_id,
  };
}
