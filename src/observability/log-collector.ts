import { setImmediate } from 'node:timers/promises';
import { type Insertable, type Kysely, sql } from 'kysely';
import type { Logger } from 'pino';
import { materialize, redact } from '../configuration/materialize.js';
import { Periodic } from '../control/periodic.js';
import type { DataPlaneDriver, Replica } from '../dataplane/driver.js';
import { isExecution, LABEL } from '../dataplane/labels.js';
import type { DataPlaneRegistry } from '../dataplane/registry.js';
import { storableText } from '../domain/storable-text.js';
import type { Keyring } from '../secrets/envelope.js';
import type { LogDatabase, RuntimeLogsTable } from '../store/schema.js';
import type { Store } from '../store/store.js';
import type { LogChanges } from './log-changes.js';
import { parseLevel } from './log-levels.js';
import { type Column, unnestInsert } from './unnest-insert.js';

export interface LogCollectorSettings {
  /** How often the data planes are listed for replicas to follow. */
  discoverMs: number;
  /** A batch is written when it has this many lines, or `flushMs` after its first line. */
  batchLines: number;
  flushMs: number;
}

export const DEFAULT_COLLECTOR_SETTINGS: LogCollectorSettings = {
  discoverMs: 1000,
  batchLines: 500,
  flushMs: 250,
};

export interface LogCollectorDeps {
  store: Store;
  dataPlanes: DataPlaneRegistry;
  keyring: Keyring;
  instance: string;
  logger: Logger;
  changes: LogChanges;
}

/** A container's newest line taken: its engine time and how many taken lines share that time. */
interface Mark {
  ns: bigint;
  count: number;
}

interface Owner {
  orgId: string;
  componentId: string;
  environmentId: string;
  deploymentId: string;
  deployment: string;
  secrets: string[];
}

interface Pending {
  row: Insertable<RuntimeLogsTable>;
  container: string;
  mark: Mark;
}

/** Lines parsed between two turns of the event loop (~0.5 ms of work). */
const YIELD_EVERY_LINES = 32;

/** The line with a longer text is cut to this: one runaway line must not fill a batch. */
const LINE_MAX_CHARS = 16 * 1024;

/**
 * Follows every replica container's output on the data planes (the engine's timestamps, from the
 * start) and writes it to the store in batches, redacted and made storable. Where each container
 * was left is stored with each batch, so a restarted control plane resumes without duplicates.
 * Task executions keep their own logs (src/tasks/executions.ts) and are not followed here.
 */
export class LogCollector {
  readonly #deps: LogCollectorDeps;
  readonly #settings: LogCollectorSettings;
  readonly #periodic: Periodic;
  readonly #following = new Map<string, AbortController>();
  /** Containers whose follow ended while they were not running: not followed again unless they run. */
  readonly #drained = new Set<string>();
  readonly #marks = new Map<string, Mark>();
  readonly #owners = new Map<string, Promise<Owner | undefined>>();
  #buffer: Pending[] = [];
  #flushing: Promise<void> | undefined;
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;
  readonly #log: Logger;

  constructor(deps: LogCollectorDeps, settings: Partial<LogCollectorSettings> = {}) {
    this.#deps = deps;
    this.#settings = { ...DEFAULT_COLLECTOR_SETTINGS, ...settings };
    const log = deps.logger.child({ part: 'log-collector' });
    this.#log = log;
    this.#periodic = new Periodic(
      () => this.#discover(),
      this.#settings.discoverMs,
      (err) => log.warn({ err: String(err) }, 'listing replicas for their logs failed'),
    );
  }

  start(): void {
    this.#stopped = false;
    this.#periodic.start();
  }

  /** Stops following and writes what was read; the next start resumes where the store says. */
  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#periodic.stop();
    for (const c of this.#following.values()) c.abort();
    this.#following.clear();
    await this.flush();
    // What is known lives in the store now: a start after this resumes from there, as a new process would.
    this.#marks.clear();
    this.#drained.clear();
    this.#owners.clear();
  }

  /** The containers followed now (for tests and the benchmark). */
  get following(): number {
    return this.#following.size;
  }

  async #discover(): Promise<void> {
    const rows = await this.#deps.store.db
      .selectFrom('data_planes')
      .select(['id', 'type', 'config'])
      .execute();
    const seen = new Set<string>();
    const deployments = new Set<string>();
    let partial = false;
    for (const row of rows) {
      const dp = this.#deps.dataPlanes.tryFor(row);
      if (!dp?.observe.logLines) continue;
      // One data plane that does not answer (a cluster gone) leaves the others' logs followed.
      const workloads = await dp.observe
        .list({ [LABEL.instance]: this.#deps.instance })
        .catch((err: unknown) => {
          partial = true;
          this.#log.warn({ dataPlane: row.id, err: String(err) }, 'listing replicas for their logs failed');
          return [];
        });
      for (const w of workloads) {
        const deployment = w.labels[LABEL.deployment];
        if (isExecution(w) || !deployment || w.labels[LABEL.replica] === undefined) continue;
        seen.add(w.id);
        deployments.add(deployment);
        if (this.#following.has(w.id) || this.#stopped) continue;
        if (this.#drained.has(w.id) && w.state !== 'running') continue;
        this.#drained.delete(w.id);
        this.#follow(dp, w);
      }
    }
    // Forget containers that are gone (their marks are in the store) and owners no one uses;
    // not after a data plane did not answer: its containers are not gone, only unseen.
    if (partial) return;
    for (const id of this.#drained) if (!seen.has(id)) this.#drained.delete(id);
    for (const id of this.#marks.keys())
      if (!seen.has(id) && !this.#following.has(id)) this.#marks.delete(id);
    for (const id of this.#owners.keys()) if (!deployments.has(id)) this.#owners.delete(id);
  }

  #follow(dp: DataPlaneDriver, w: Replica): void {
    const abort = new AbortController();
    this.#following.set(w.id, abort);
    const log = this.#deps.logger.child({ part: 'log-collector', container: w.name });
    this.#read(dp, w, abort.signal)
      .catch((err: unknown) => {
        if (!abort.signal.aborted) log.debug({ err: String(err) }, 'following a replica’s log ended');
      })
      .finally(() => {
        if (this.#following.get(w.id) === abort) this.#following.delete(w.id);
        this.#drained.add(w.id);
      });
  }

  async #read(dp: DataPlaneDriver, w: Replica, signal: AbortSignal): Promise<void> {
    const owner = await this.#ownerOf(w.labels[LABEL.deployment]!);
    const logLines = dp.observe.logLines;
    if (!owner || !logLines) return;
    const from = this.#marks.get(w.id) ?? (await this.#storedMark(w.id));
    if (signal.aborted) return;
    let mark: Mark | undefined = from;
    // Lines at the resume time that were already stored come again (`since` is inclusive): skip them.
    let skip = from?.count ?? 0;
    const replica = w.labels[LABEL.replica]!;
    let read = 0;
    for await (const line of logLines(w.id, { ...(from ? { sinceNs: from.ns } : {}), signal })) {
      // An engine's chunk holds hundreds of lines, all parsed without a turn of the event loop
      // otherwise (the generator's steps are microtasks): API requests wait behind at most this many.
      if (++read % YIELD_EVERY_LINES === 0) await setImmediate();
      if (from && line.ns < from.ns) continue;
      if (from && line.ns === from.ns && skip > 0) {
        skip--;
        continue;
      }
      mark = mark && mark.ns === line.ns ? { ns: line.ns, count: mark.count + 1 } : { ns: line.ns, count: 1 };
      this.#marks.set(w.id, mark);
      const message = storableText(redact(line.text, owner.secrets), { maxChars: LINE_MAX_CHARS });
      this.#buffer.push({
        container: w.id,
        mark,
        row: {
          org_id: owner.orgId,
          component_id: owner.componentId,
          environment_id: owner.environmentId,
          deployment_id: owner.deploymentId,
          deployment: owner.deployment,
          replica,
          at_us: (line.ns / 1000n).toString(),
          stream: line.stream,
          level: parseLevel(message) ?? null,
          message,
        },
      });
      // A full batch is written before more is read: the engine holds the rest meanwhile.
      if (this.#buffer.length >= this.#settings.batchLines) await this.flush();
      else this.#timer ??= setTimeout(() => void this.flush(), this.#settings.flushMs);
    }
  }

  async #storedMark(container: string): Promise<Mark | undefined> {
    const r = await this.#deps.store.logs.db
      .selectFrom('runtime_log_sources')
      .select(['last_ns', 'last_count'])
      .where('container_id', '=', container)
      .executeTakeFirst();
    return r ? { ns: BigInt(r.last_ns), count: r.last_count } : undefined;
  }

  #ownerOf(deploymentId: string): Promise<Owner | undefined> {
    let owner = this.#owners.get(deploymentId);
    if (!owner) {
      owner = this.#loadOwner(deploymentId);
      this.#owners.set(deploymentId, owner);
      // A failed read is tried again at the next follow.
      owner.catch(() => this.#owners.delete(deploymentId));
    }
    return owner;
  }

  async #loadOwner(deploymentId: string): Promise<Owner | undefined> {
    const { db } = this.#deps.store;
    const d = await db
      .selectFrom('deployments')
      .select(['id', 'org_id', 'component_id', 'environment_id', 'name', 'spec'])
      .where('id', '=', deploymentId)
      .executeTakeFirst();
    if (!d) return undefined;
    const spec = d.spec;
    const config = await materialize(db, this.#deps.keyring, spec?.config ?? []);
    return {
      orgId: d.org_id,
      componentId: d.component_id,
      environmentId: d.environment_id,
      deploymentId: d.id,
      deployment: d.name ?? d.id,
      secrets: config.secrets,
    };
  }

  /** Writes the lines read so far, with each container's mark, in one transaction. */
  flush(): Promise<void> {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    // One write at a time; a caller that finds one running waits for it, then writes what is left.
    this.#flushing ??= this.#write().finally(() => {
      this.#flushing = undefined;
    });
    return this.#flushing;
  }

  async #write(): Promise<void> {
    while (this.#buffer.length > 0) {
      // PGlite runs each statement on this thread and its promises settle as microtasks: without
      // a turn of the event loop between batches, a backlog of batches would keep every API
      // request unread (unparsed, so not even queued for the store) until all were written.
      await setImmediate();
      const batch = this.#buffer.splice(0, this.#settings.batchLines);
      const marks = new Map<string, Mark>();
      for (const p of batch) marks.set(p.container, p.mark);
      try {
        // The background handle: API requests go first on PGlite's one connection.
        await storeBatch(
          this.#deps.store.logs.background,
          batch.map((p) => p.row),
          marks,
        );
      } catch (err) {
        // Dropped, not retried forever: the store said no to this batch, and the next one must go on.
        this.#deps.logger.warn(
          { err: String(err), lines: batch.length },
          'runtime log lines could not be stored',
        );
      }
      this.#deps.changes.stored();
    }
  }
}

type Row = Insertable<RuntimeLogsTable>;

const LINE_COLUMNS: readonly Column<Row>[] = [
  ['org_id', 'text'],
  ['component_id', 'text'],
  ['environment_id', 'text'],
  ['deployment_id', 'text'],
  ['deployment', 'text'],
  ['replica', 'text'],
  ['at_us', 'bigint'],
  ['stream', 'text'],
  ['level', 'text'],
  ['message', 'text'],
];

/**
 * The lines and each container's mark in one statement (a data-modifying `with`), so atomic
 * without a transaction: the store's one connection is held for one statement, not for four
 * round trips (begin, lines, marks, commit), each of which waited for this thread under load.
 */
function storeBatch(db: Kysely<LogDatabase>, rows: Row[], marks: Map<string, Mark>) {
  const containers = [...marks.keys()];
  const ns = containers.map((c) => marks.get(c)!.ns.toString());
  const counts = containers.map((c) => marks.get(c)!.count);
  return sql`with stored as (${unnestInsert('runtime_logs', LINE_COLUMNS, rows)})
    insert into runtime_log_sources (container_id, last_ns, last_count, updated_at)
    select m.container_id, m.last_ns, m.last_count, now()
    from unnest(${containers}::text[], ${ns}::text[], ${counts}::integer[]) as m(container_id, last_ns, last_count)
    on conflict (container_id) do update set
      last_ns = excluded.last_ns, last_count = excluded.last_count, updated_at = excluded.updated_at`.execute(
    db,
  );
}
