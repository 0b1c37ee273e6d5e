import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import { Periodic } from '../control/periodic.js';
import type { ReplicaExit } from '../dataplane/driver.js';
import { isExecution, LABEL } from '../dataplane/labels.js';
import type { DataPlaneRegistry } from '../dataplane/registry.js';
import { storableText } from '../domain/storable-text.js';
import type { Store } from '../store/store.js';

export interface ReplicaConditionDeps {
  store: Store;
  dataPlanes: DataPlaneRegistry;
  instance: string;
  logger: Logger;
  /** Writes the runtime log lines read so far, so an event can quote a crashed replica's last lines. */
  flushLogs: () => Promise<void>;
}

/** Exits this many times within `LOOP_WINDOW_MS` make a crash loop. */
const LOOP_EXITS = 3;
const LOOP_WINDOW_MS = 10 * 60_000;
const LAST_LINES = 5;
/** SIGKILL and SIGTERM: how Rondo stops replicas (rollouts, liveness restarts), not crashes. */
const STOPPED_BY_SIGNAL = new Set([137, 143]);

/**
 * Records replica conditions as deployment events (G3): crashes with the exit code and the last
 * log lines, crash loops, OOM kills. It watches the engine's stop events of this installation's
 * replicas; stops Rondo asks for (exit 0 after SIGTERM, 137, 143 without an OOM kill) and replicas
 * of deployments no longer live are not conditions.
 */
export class ReplicaConditions {
  readonly #deps: ReplicaConditionDeps;
  readonly #periodic: Periodic;
  readonly #watching = new Map<string, AbortController>();
  readonly #exits = new Map<string, number[]>();
  readonly #log: Logger;

  constructor(deps: ReplicaConditionDeps, everyMs = 5000) {
    this.#deps = deps;
    this.#log = deps.logger.child({ part: 'replica-conditions' });
    this.#periodic = new Periodic(
      () => this.#watchAll(),
      everyMs,
      (err) => this.#log.warn({ err: String(err) }, 'watching replica exits failed'),
    );
  }

  start(): void {
    this.#periodic.start();
  }

  async stop(): Promise<void> {
    await this.#periodic.stop();
    for (const a of this.#watching.values()) a.abort();
    this.#watching.clear();
  }

  /** One watch per data plane; a watch that ended (engine restarted) is started again. */
  async #watchAll(): Promise<void> {
    const rows = await this.#deps.store.db
      .selectFrom('data_planes')
      .select(['id', 'type', 'config'])
      .execute();
    for (const row of rows) {
      if (this.#watching.has(row.id)) continue;
      const dp = this.#deps.dataPlanes.tryFor(row);
      if (!dp?.observe.exits) continue;
      const abort = new AbortController();
      this.#watching.set(row.id, abort);
      const watch = dp.observe.exits({ [LABEL.instance]: this.#deps.instance }, abort.signal);
      void (async () => {
        for await (const exit of watch)
          await this.#record(exit).catch((err: unknown) =>
            this.#log.warn({ err: String(err) }, 'a replica condition could not be recorded'),
          );
      })()
        .catch(() => undefined)
        .finally(() => {
          if (this.#watching.get(row.id) === abort) this.#watching.delete(row.id);
        });
    }
  }

  async #record(e: ReplicaExit): Promise<void> {
    const deploymentId = e.labels[LABEL.deployment];
    const replica = e.labels[LABEL.replica];
    if (!deploymentId || replica === undefined || isExecution(e)) return;
    if (!e.oomKilled && (e.exitCode === 0 || STOPPED_BY_SIGNAL.has(e.exitCode))) return;
    const { db } = this.#deps.store;
    const d = await db
      .selectFrom('deployments')
      .select('status')
      .where('id', '=', deploymentId)
      .executeTakeFirst();
    if (!d || (d.status !== 'active' && d.status !== 'rolling-out')) return;
    const now = Date.now();
    const recent = (this.#exits.get(e.id) ?? []).filter((at) => at > now - LOOP_WINDOW_MS);
    recent.push(now);
    this.#exits.set(e.id, recent);
    // The follow of its log ends with the container: give the collector a moment, then write.
    await sleep(300);
    await this.#deps.flushLogs();
    const last = await this.#deps.store.logs.db
      .selectFrom('runtime_logs')
      .select('message')
      .where('deployment_id', '=', deploymentId)
      .where('replica', '=', replica)
      .orderBy('at_us', 'desc')
      .orderBy('id', 'desc')
      .limit(LAST_LINES)
      .execute();
    const kind = e.oomKilled ? 'oom-killed' : recent.length >= LOOP_EXITS ? 'crash-loop' : 'crash';
    const what = e.oomKilled
      ? `was killed for exceeding its memory limit (exit code ${e.exitCode})`
      : `exited with code ${e.exitCode}${kind === 'crash-loop' ? ` (${recent.length} times in 10 minutes)` : ''}`;
    const lines = last.reverse().map((l) => `  ${l.message}`);
    const message = `replica ${replica} ${what}${lines.length ? `; last lines:\n${lines.join('\n')}` : ''}`;
    await db
      .insertInto('deployment_events')
      .values({ deployment_id: deploymentId, kind, message: storableText(message, { maxChars: 4096 }) })
      .execute();
  }
}
