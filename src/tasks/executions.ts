import type { Logger } from 'pino';
import { materialize, redact } from '../configuration/materialize.js';
import { newId } from '../control/ids.js';
import { writeTerminalState } from '../control/terminal-write.js';
import type { DataPlaneDriver, EnvironmentInfo } from '../dataplane/driver.js';
import { LABEL, networkLabels, networkName } from '../dataplane/labels.js';
import type { DataPlaneRegistry } from '../dataplane/registry.js';
import { type DeploymentTarget, deploymentTargets } from '../deploy/targets.js';
import { storableText } from '../domain/storable-text.js';
import type { ExecutionStatus, ExecutionTrigger, TaskSpec } from '../domain/task.js';
import type { TaskSettings } from '../platform-config.js';
import type { Keyring } from '../secrets/envelope.js';
import type { Store } from '../store/store.js';
import { LogTail } from './log-tail.js';

export interface ExecutionDeps {
  store: Store;
  dataPlanes: DataPlaneRegistry;
  keyring: Keyring;
  instance: string;
  logger: Logger;
  settings: TaskSettings;
  /** The environment's internal gateway port base (tasks call org-visible endpoints through it). */
  internalPortBase: number;
}

/** A run in progress as its followers need it. */
export interface LiveRun {
  dp: DataPlaneDriver;
  workloadId: string;
  secrets: string[];
}

export interface RunRequest {
  trigger: ExecutionTrigger;
  triggeredBy: string;
  args: string[];
  /** Scheduled runs: the due time, which one execution claims (so two control planes run it once). */
  dueAt?: Date;
}

/** How a run ended when Rondo ended it; otherwise its exit code decides. */
interface Ending {
  status: Extract<ExecutionStatus, 'cancelled' | 'timed-out'>;
  reason: string;
}

/**
 * Runs task executions (§8): one container per run on the (project, environment) network, with
 * the deployment's image and configuration, watched until it exits or Rondo ends it (cancel,
 * timeout, replace). The record is the truth: a run is `running` until its monitor writes how it
 * ended, and a control plane that restarts reattaches to the runs whose containers survived and
 * marks the others `failed` (interrupted), so no record stays `running` with nothing behind it.
 */
export class ExecutionRunner {
  readonly #deps: ExecutionDeps;
  readonly #log: Logger;
  /** Monitors in this process, by execution id. */
  readonly #monitors = new Map<string, Promise<void>>();
  /** Resolves once a launch here has its container (or gave up), by execution id. */
  readonly #launched = new Map<string, Promise<void>>();
  /** Where a run watched here runs, for followers (no store round trip, no decryption). */
  readonly #live = new Map<string, LiveRun>();
  /** Networks known to exist, by name: a run skips the engine round trip (a failed run forgets them). */
  readonly #networks = new Map<string, EnvironmentInfo>();
  /** Container removals after runs ended; `idle()` waits for them. */
  readonly #removals = new Set<Promise<void>>();
  readonly #endings = new Map<string, Ending>();
  readonly #stop = new AbortController();

  constructor(deps: ExecutionDeps) {
    this.#deps = deps;
    this.#log = deps.logger.child({ part: 'executions' });
  }

  /**
   * Records a `running` execution of the deployment and starts its container. Returns its id, or
   * undefined when a scheduled due time was already claimed.
   */
  async start(deploymentId: string, run: RunRequest): Promise<string | undefined> {
    const { store } = this.#deps;
    const t = await deploymentTargets(store.db).where('d.id', '=', deploymentId).executeTakeFirstOrThrow();
    const id = newId('exe');
    const inserted = await store.db
      .insertInto('executions')
      .values({
        id,
        org_id: t.org_id,
        component_id: t.component_id,
        environment_id: t.environment_id,
        deployment_id: t.id,
        trigger: run.trigger,
        triggered_by: run.triggeredBy,
        due_at: run.dueAt ?? null,
        args: JSON.stringify(run.args),
        status: 'running',
      })
      .onConflict((oc) => oc.columns(['component_id', 'environment_id', 'due_at']).doNothing())
      .returning('id')
      .executeTakeFirst();
    if (!inserted) return undefined;
    let launched!: () => void;
    this.#launched.set(id, new Promise<void>((resolve) => (launched = resolve)));
    const launch = this.#launch(id, t, run.args, launched).finally(launched);
    this.#monitors.set(id, launch);
    void launch.finally(() => {
      this.#monitors.delete(id);
      this.#launched.delete(id);
      this.#live.delete(id);
    });
    return id;
  }

  /** Records a run that did not start (`skipped` by forbid, `missed` while the control plane was down). */
  async record(
    deploymentId: string,
    status: Extract<ExecutionStatus, 'skipped' | 'missed'>,
    dueAt: Date,
    reason: string,
  ): Promise<void> {
    const t = await deploymentTargets(this.#deps.store.db)
      .where('d.id', '=', deploymentId)
      .executeTakeFirstOrThrow();
    const now = new Date();
    await this.#deps.store.db
      .insertInto('executions')
      .values({
        id: newId('exe'),
        org_id: t.org_id,
        component_id: t.component_id,
        environment_id: t.environment_id,
        deployment_id: t.id,
        trigger: 'schedule',
        triggered_by: 'scheduler',
        due_at: dueAt,
        args: '[]',
        status,
        status_reason: reason,
        finished_at: now,
      })
      .onConflict((oc) => oc.columns(['component_id', 'environment_id', 'due_at']).doNothing())
      .execute();
  }

  /**
   * Ends a running execution (cancel, replace, timeout): the container gets SIGTERM and, after
   * the grace period, SIGKILL; its monitor then records the ending with the logs in one write,
   * and this resolves once it has. A run no monitor here watches is recorded directly. Ending one
   * that already ended changes nothing (false).
   */
  async end(
    id: string,
    ending: Ending,
    graceSeconds = this.#deps.settings.cancelGraceSeconds,
  ): Promise<boolean> {
    const row = await this.#deps.store.db
      .selectFrom('executions')
      .select(['workload_id', 'environment_id', 'status'])
      .where('id', '=', id)
      .executeTakeFirst();
    if (row?.status !== 'running' || this.#endings.has(id)) return false;
    const monitor = this.#monitors.get(id);
    if (monitor) this.#endings.set(id, ending);
    else {
      const ended = await this.#finishIfRunning(id, ending);
      if (!ended) return false;
    }
    const dp = await this.planeOfEnvironment(row.environment_id);
    const workload = row.workload_id ?? (await this.#findWorkload(dp, id));
    if (workload) await dp.jobs.remove(workload, graceSeconds).catch(() => undefined);
    await monitor;
    return true;
  }

  /** The running executions of a (component, environment), oldest first. */
  async running(componentId: string, environmentId: string): Promise<string[]> {
    const rows = await this.#deps.store.db
      .selectFrom('executions')
      .select('id')
      .where('component_id', '=', componentId)
      .where('environment_id', '=', environmentId)
      .where('status', '=', 'running')
      .orderBy('created_at')
      .execute();
    return rows.map((r) => r.id);
  }

  /**
   * After a start: every `running` record without a monitor here is reattached when its container
   * is still there, else marked failed (interrupted). Containers of ended executions are removed.
   */
  async recover(): Promise<void> {
    const { store, instance } = this.#deps;
    const rows = await store.db
      .selectFrom('executions')
      .select(['id', 'deployment_id', 'workload_id', 'started_at', 'created_at'])
      .where('status', '=', 'running')
      .execute();
    for (const row of rows) {
      if (this.#monitors.has(row.id)) continue;
      const t = await deploymentTargets(store.db).where('d.id', '=', row.deployment_id).executeTakeFirst();
      const dp = t ? this.#plane(t) : undefined;
      const workload = dp ? await this.#findWorkload(dp, row.id) : undefined;
      if (!t || !dp || !workload) {
        await this.#finish(row.id, {
          status: 'failed',
          reason: 'interrupted: the control plane stopped during the run and its container is gone',
        });
        continue;
      }
      this.#log.info({ execution: row.id }, 'reattaching to a running execution');
      const secrets = await this.#secretsOf(t);
      const started = row.started_at ?? row.created_at;
      const monitor = this.#monitor(row.id, t, dp, workload, secrets, new Date(started));
      this.#monitors.set(row.id, monitor);
      void monitor.finally(() => this.#monitors.delete(row.id));
    }
    for (const dp of await this.#planes()) {
      const containers = await dp.jobs.list({ [LABEL.instance]: instance }).catch(() => []);
      const ids = containers.map((w) => w.labels[LABEL.execution]).filter((x): x is string => Boolean(x));
      if (ids.length === 0) continue;
      const live = await store.db
        .selectFrom('executions')
        .select('id')
        .where('id', 'in', ids)
        .where('status', '=', 'running')
        .execute();
      const keep = new Set(live.map((r) => r.id));
      await Promise.all(
        containers
          .filter((w) => w.labels[LABEL.execution] && !keep.has(w.labels[LABEL.execution]!))
          .map((w) => dp.jobs.remove(w.id, 0).catch(() => undefined)),
      );
    }
  }

  /** Stops watching (the containers keep running; the next start reattaches). */
  stop(): void {
    this.#stop.abort();
  }

  /**
   * For followers in this process: resolves when the run has its container (`started`) or has
   * been recorded as ended (`ended`); undefined when no monitor here watches it.
   */
  watch(
    id: string,
  ): { started: Promise<void>; ended: Promise<void>; live: () => LiveRun | undefined } | undefined {
    const ended = this.#monitors.get(id);
    if (!ended) return undefined;
    return {
      started: this.#launched.get(id) ?? Promise.resolve(),
      ended: ended.catch(() => undefined),
      live: () => this.#live.get(id),
    };
  }

  /** Waits until no execution is being started or watched here (tests). */
  async idle(): Promise<void> {
    while (this.#monitors.size > 0 || this.#removals.size > 0)
      await Promise.allSettled([...this.#monitors.values(), ...this.#removals]);
  }

  async #launch(id: string, t: DeploymentTarget, args: string[], launched: () => void): Promise<void> {
    const spec = t.spec;
    const dp = this.#plane(t);
    let secrets: string[] = [];
    try {
      const [environment, image, config] = await Promise.all([
        this.#environment(dp, t),
        spec.imageId ?? dp.revisions.pin(spec.image),
        materialize(this.#deps.store.db, this.#deps.keyring, spec.config ?? []),
      ]);
      secrets = config.secrets;
      const w = await dp.jobs.start({
        environment,
        name: `rondo-${this.#deps.instance}.${t.org}.${t.project}.${t.component}.${t.environment}.${id}`,
        image,
        labels: {
          ...networkLabels({ instance: this.#deps.instance, ...t }),
          [LABEL.component]: t.component,
          [LABEL.execution]: id,
        },
        env: { ...spec.env, ...config.env, RONDO_EXECUTION_ID: id },
        files: config.files,
        args,
        ...(spec.resources ? { resources: spec.resources } : {}),
        ...(t.gateway_slot === null
          ? {}
          : { organizationGatewayPort: this.#deps.internalPortBase + t.gateway_slot }),
      });
      const startedAt = w.startedAt ? new Date(w.startedAt) : new Date();
      this.#live.set(id, { dp, workloadId: w.id, secrets });
      launched();
      await this.#deps.store.db
        .updateTable('executions')
        .set({ workload_id: w.id, started_at: startedAt })
        .where('id', '=', id)
        .execute();
      // Ended while it was starting: stop it now that there is a container to stop.
      if (this.#endings.has(id)) await dp.jobs.remove(w.id, 0).catch(() => undefined);
      await this.#monitor(id, t, dp, w.id, secrets, startedAt);
    } catch (err) {
      this.#networks.delete(networkName(this.#deps.instance, t));
      if (this.#stop.signal.aborted) return;
      const reason = redact(err instanceof Error ? err.message : String(err), secrets);
      this.#log.warn({ execution: id, reason }, 'execution could not start');
      await this.#finish(
        id,
        this.#endings.get(id) ?? { status: 'failed', reason: `could not start: ${reason}` },
      );
      this.#endings.delete(id);
    }
  }

  /** Streams the container's output into a capped tail, waits for its exit (or the timeout), records the end. */
  async #monitor(
    id: string,
    t: DeploymentTarget,
    dp: DataPlaneDriver,
    workloadId: string,
    secrets: string[],
    startedAt: Date,
  ): Promise<void> {
    const task = t.spec.task as TaskSpec;
    const signal = this.#stop.signal;
    const tail = new LogTail(this.#deps.settings.logLimitBytes);
    const output = dp.jobs
      .follow(workloadId, signal)
      .then(
        (stream) =>
          new Promise<void>((resolve) => {
            stream.on('data', (c: Buffer) => tail.push(c));
            stream.on('end', resolve);
            stream.on('error', () => resolve());
            stream.on('close', resolve);
          }),
      )
      .catch(() => undefined);
    const left = startedAt.getTime() + task.timeoutSeconds * 1000 - Date.now();
    const timer = setTimeout(
      () => {
        void this.end(
          id,
          { status: 'timed-out', reason: `ran longer than its timeout of ${task.timeoutSeconds} s; stopped` },
          0,
        );
      },
      Math.max(0, left),
    );
    let exitCode: number | undefined;
    try {
      exitCode = await dp.jobs.wait(workloadId, signal);
    } catch {
      exitCode = undefined;
    } finally {
      clearTimeout(timer);
    }
    if (signal.aborted) return; // shutting down: the run goes on and is reattached at the next start
    // The log stream ends with the container; a moment's grace for the engine to flush it.
    await Promise.race([output, new Promise((r) => setTimeout(r, 2000).unref())]);
    tail.completeWith(await dp.jobs.logs(workloadId, 20).catch(() => ''));
    const ending = this.#endings.get(id);
    this.#endings.delete(id);
    await this.#finish(
      id,
      ending ??
        (exitCode === 0
          ? { status: 'succeeded', reason: null }
          : {
              status: 'failed',
              reason: exitCode === undefined ? 'the container vanished' : `exited with code ${exitCode}`,
            }),
      exitCode,
      { text: redact(tail.text(), secrets), truncated: tail.truncated },
    );
    // Followers wait for the record, not for the container to go.
    const removal = dp.jobs.remove(workloadId, 0).catch(() => undefined);
    this.#removals.add(removal);
    void removal.finally(() => this.#removals.delete(removal));
  }

  /**
   * Writes how a run ended, its exit code and its logs in one update, unless it had already ended.
   * The logs and the reason are what the run and the engine printed, made storable first; if the
   * write still fails, the end is recorded without the logs (`writeTerminalState`).
   */
  async #finish(
    id: string,
    end: { status: ExecutionStatus; reason: string | null },
    exitCode?: number,
    logs?: { text: string; truncated: boolean },
  ): Promise<void> {
    const reason = end.reason === null ? null : storableText(end.reason);
    const ended = {
      status: end.status,
      status_reason: reason,
      finished_at: new Date(),
      ...(exitCode === undefined ? {} : { exit_code: exitCode }),
    };
    const write = (values: typeof ended & { logs?: string; logs_truncated?: boolean }) =>
      this.#deps.store.db
        .updateTable('executions')
        .set(values)
        .where('id', '=', id)
        .where('status', '=', 'running')
        .execute();
    // The tail is capped in bytes already; the character cap only keeps its end if that grew.
    const maxChars = this.#deps.settings.logLimitBytes + 1024;
    await writeTerminalState(
      this.#log,
      `execution ${id}`,
      () =>
        write({
          ...ended,
          ...(logs
            ? { logs: storableText(logs.text, { maxChars, keep: 'end' }), logs_truncated: logs.truncated }
            : {}),
        }),
      (whyNot) =>
        write({
          ...ended,
          status_reason: storableText(`${reason ?? end.status}; the logs could not be stored: ${whyNot}`),
        }),
    );
  }

  async #finishIfRunning(id: string, end: Ending): Promise<boolean> {
    const r = await this.#deps.store.db
      .updateTable('executions')
      .set({ status: end.status, status_reason: end.reason, finished_at: new Date() })
      .where('id', '=', id)
      .where('status', '=', 'running')
      .executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  }

  /** The secret values of a deployment's configuration, for redacting what its runs print. */
  async secretsOfDeployment(deploymentId: string): Promise<string[]> {
    const t = await deploymentTargets(this.#deps.store.db)
      .where('d.id', '=', deploymentId)
      .executeTakeFirst();
    return t ? this.#secretsOf(t) : [];
  }

  async #secretsOf(t: DeploymentTarget): Promise<string[]> {
    const spec = t.spec;
    return materialize(this.#deps.store.db, this.#deps.keyring, spec.config ?? [])
      .then((m) => m.secrets)
      .catch(() => []);
  }

  async #environment(dp: DataPlaneDriver, t: DeploymentTarget): Promise<EnvironmentInfo> {
    const name = networkName(this.#deps.instance, t);
    const known = this.#networks.get(name);
    if (known) return known;
    const environment = await dp.environments.ensure({ instance: this.#deps.instance, ...t });
    this.#networks.set(name, environment);
    return environment;
  }

  async #findWorkload(dp: DataPlaneDriver, id: string): Promise<string | undefined> {
    const found = await dp.jobs
      .list({ [LABEL.instance]: this.#deps.instance, [LABEL.execution]: id })
      .catch(() => []);
    return found[0]?.id;
  }

  #plane(t: DeploymentTarget): DataPlaneDriver {
    return this.#deps.dataPlanes.for({
      id: t.data_plane_id,
      type: t.data_plane_type,
      config: t.data_plane_config,
    });
  }

  /** The data plane an environment's runs use. */
  async planeOfEnvironment(environmentId: string): Promise<DataPlaneDriver> {
    const row = await this.#deps.store.db
      .selectFrom('environments as e')
      .innerJoin('data_planes as dp', 'dp.id', 'e.data_plane_id')
      .select(['dp.id', 'dp.type', 'dp.config'])
      .where('e.id', '=', environmentId)
      .executeTakeFirstOrThrow();
    return this.#deps.dataPlanes.for(row);
  }

  async #planes(): Promise<DataPlaneDriver[]> {
    const rows = await this.#deps.store.db
      .selectFrom('data_planes')
      .select(['id', 'type', 'config'])
      .execute();
    return rows.flatMap((r) => this.#deps.dataPlanes.tryFor(r) ?? []);
  }
}
