import { type Insertable, sql } from 'kysely';
import type { Logger } from 'pino';
import type { GatewayRequestsTable } from '../store/schema.js';
import type { Store } from '../store/store.js';
import { AccessLogFile, type FilePosition } from './access-log-file.js';
import type { GatewayRequest, GatewayRequestSink } from './gateway-requests.js';
import type { LogChanges } from './log-changes.js';
import { type Column, unnestInsert } from './unnest-insert.js';

/**
 * One line of the gateway's access log, as the gateway's own parser reads it: a request a route
 * attributed to a component (with its time in microseconds), a request no component owns (the
 * gateway's own 404s), or a line that is not a request at all.
 */
export type AccessLine =
  | { kind: 'request'; request: GatewayRequest; atUs: string }
  | { kind: 'unattributed' }
  | { kind: 'invalid'; reason: string };

export interface GatewayLogCollectorDeps {
  store: Store;
  logger: Logger;
  changes: LogChanges;
  /** The access log file the gateway writes. */
  path: string;
  /** The gateway's line format (src/gateway/caddy-access-log.ts for Caddy). */
  parse: (line: string) => AccessLine;
  /** Every stored batch is handed here too (the metrics side); optional so either can land first. */
  sink?: GatewayRequestSink;
}

export interface GatewayLogCollectorSettings {
  pollMs: number;
  batchLines: number;
}

/** What the collector did since it was made (tests, the benchmark, and a warning now and then). */
export interface GatewayLogStats {
  stored: number;
  unattributed: number;
  invalid: number;
  /** Lines naming a component, environment or deployment that is not (or no longer) there. */
  unknownOwner: number;
}

interface OwnerCheck {
  ok: boolean;
  deployment: string | null;
}

const OWNER_CACHE_MS = 60_000;

/**
 * Follows the gateway's access log file into `gateway_requests`, per component (G3). Lines are
 * read in chunks and written in batches, each batch in one transaction with the file position
 * after its last line, so a restarted control plane resumes where the store says: no line is
 * stored twice or left out. Lines that are not requests are skipped and counted; a line's owner
 * (from the route that answered) is checked against the store before it is written.
 */
export class GatewayLogCollector {
  readonly #deps: GatewayLogCollectorDeps;
  readonly #settings: GatewayLogCollectorSettings;
  readonly #file: AccessLogFile;
  readonly #log: Logger;
  readonly #owners = new Map<string, OwnerCheck>();
  #ownersSince = Date.now();
  #loop: Promise<void> | undefined;
  #stopping = false;
  #wake: (() => void) | undefined;
  readonly stats: GatewayLogStats = { stored: 0, unattributed: 0, invalid: 0, unknownOwner: 0 };

  constructor(deps: GatewayLogCollectorDeps, settings: Partial<GatewayLogCollectorSettings> = {}) {
    this.#deps = deps;
    this.#settings = { pollMs: 250, batchLines: 500, ...settings };
    this.#file = new AccessLogFile(deps.path);
    this.#log = deps.logger.child({ part: 'gateway-log-collector' });
  }

  start(): void {
    if (this.#loop) return;
    this.#stopping = false;
    this.#loop = this.#run();
  }

  /** Stops after the chunk in hand is stored; the next start resumes from the stored position. */
  async stop(): Promise<void> {
    this.#stopping = true;
    this.#wake?.();
    await this.#loop;
    this.#loop = undefined;
    await this.#file.close();
  }

  async #run(): Promise<void> {
    let resumed = false;
    while (!this.#stopping) {
      let busy = false;
      try {
        if (!resumed) {
          await this.#file.resume(await this.#storedPosition());
          resumed = true;
        }
        busy = await this.#step();
      } catch (err) {
        // The store or the file said no: the position was not stored, so the same lines come again.
        this.#log.warn({ err: String(err) }, 'gateway access log not collected; retrying');
        resumed = false;
        await this.#file.close();
      }
      if (!busy && !this.#stopping)
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, this.#settings.pollMs);
          this.#wake = () => {
            clearTimeout(t);
            resolve();
          };
        });
    }
  }

  async #storedPosition(): Promise<FilePosition | undefined> {
    const r = await this.#deps.store.logs.db
      .selectFrom('gateway_log_sources')
      .select(['file_id', 'offset'])
      .where('path', '=', this.#deps.path)
      .executeTakeFirst();
    return r ? { fileId: r.file_id, offset: Number(r.offset) } : undefined;
  }

  /** Reads one chunk and stores it; true when there was something to read. */
  async #step(): Promise<boolean> {
    const chunk = await this.#file.read();
    if (chunk.oversized) this.#count('invalid', chunk.oversized, 'a line longer than the chunk');
    if (chunk.lines.length === 0 && chunk.oversized === 0) return false;
    const pending: { request: GatewayRequest; atUs: string; end: number }[] = [];
    chunk.lines.forEach((line, i) => {
      if (line.trim() === '') return;
      const parsed = this.#deps.parse(line);
      if (parsed.kind === 'request') pending.push({ ...parsed, end: chunk.ends[i]! });
      else if (parsed.kind === 'unattributed') this.stats.unattributed++;
      else this.#count('invalid', 1, parsed.reason);
    });
    const owners = await this.#checkOwners(pending.map((p) => p.request));
    const known = pending.filter((p) => {
      const ok = owners.get(ownerKey(p.request))?.ok === true;
      if (!ok) this.#count('unknownOwner', 1, 'a line names an owner that is not there');
      return ok;
    });
    for (let i = 0; i < known.length; i += this.#settings.batchLines) {
      const batch = known.slice(i, i + this.#settings.batchLines);
      const last = i + this.#settings.batchLines >= known.length;
      // The last batch takes the chunk's end, so skipped lines after it are not read again.
      const offset = last ? chunk.position.offset : batch.at(-1)!.end;
      await this.#write(batch, owners, { fileId: chunk.position.fileId, offset });
    }
    if (known.length === 0) await this.#write([], owners, chunk.position);
    return true;
  }

  async #write(
    batch: { request: GatewayRequest; atUs: string }[],
    owners: Map<string, OwnerCheck>,
    position: FilePosition,
  ): Promise<void> {
    if (!position.fileId) return;
    const rows: Insertable<GatewayRequestsTable>[] = batch.map(({ request: r, atUs }) => ({
      org_id: r.orgId,
      component_id: r.componentId,
      environment_id: r.environmentId,
      deployment_id: r.deploymentId,
      deployment: owners.get(ownerKey(r))?.deployment ?? null,
      at_us: atUs,
      method: r.method,
      path: r.path,
      status: r.status,
      outcome: r.outcome,
      duration_ms: r.durationMs,
      bytes: r.bytes,
      request_id: r.requestId,
    }));
    // The background handle: API requests go first on PGlite's one connection. One statement
    // (the requests and the file position), so atomic without a transaction.
    await sql`with stored as (${unnestInsert('gateway_requests', REQUEST_COLUMNS, rows)})
      insert into gateway_log_sources (path, file_id, "offset", updated_at)
      values (${this.#deps.path}, ${position.fileId}, ${position.offset}, now())
      on conflict (path) do update set
        file_id = excluded.file_id, "offset" = excluded."offset", updated_at = excluded.updated_at`.execute(
      this.#deps.store.logs.background,
    );
    if (rows.length === 0) return;
    this.stats.stored += rows.length;
    this.#deps.changes.stored();
    try {
      this.#deps.sink?.(batch.map((b) => b.request));
    } catch (err) {
      // A consumer's failure must not stop collection, nor make the store take the batch again.
      this.#log.warn({ err: String(err) }, 'a gateway request consumer failed');
    }
  }

  /** Whether each line's owner exists as named (component in that org and project, environment, deployment). */
  async #checkOwners(requests: GatewayRequest[]): Promise<Map<string, OwnerCheck>> {
    if (Date.now() - this.#ownersSince > OWNER_CACHE_MS || this.#owners.size > 10_000) {
      this.#owners.clear();
      this.#ownersSince = Date.now();
    }
    const unknown = new Map<string, GatewayRequest>();
    for (const r of requests) {
      const key = ownerKey(r);
      if (!this.#owners.has(key)) unknown.set(key, r);
    }
    if (unknown.size > 0) {
      const db = this.#deps.store.background;
      const list = [...unknown.values()];
      const components = await db
        .selectFrom('components')
        .select(['id', 'org_id', 'project_id'])
        .where('id', 'in', [...new Set(list.map((r) => r.componentId))])
        .execute();
      const environments = await db
        .selectFrom('environments')
        .select(['id', 'org_id'])
        .where('id', 'in', [...new Set(list.map((r) => r.environmentId))])
        .execute();
      const deploymentIds = [...new Set(list.flatMap((r) => (r.deploymentId ? [r.deploymentId] : [])))];
      const deployments = deploymentIds.length
        ? await db
            .selectFrom('deployments')
            .select(['id', 'name', 'component_id', 'environment_id'])
            .where('id', 'in', deploymentIds)
            .execute()
        : [];
      for (const [key, r] of unknown) {
        const c = components.find((x) => x.id === r.componentId);
        const e = environments.find((x) => x.id === r.environmentId);
        const d = deployments.find((x) => x.id === r.deploymentId);
        const ok =
          c?.org_id === r.orgId &&
          c.project_id === r.projectId &&
          e?.org_id === r.orgId &&
          (d === undefined || (d.component_id === r.componentId && d.environment_id === r.environmentId));
        this.#owners.set(key, { ok, deployment: d ? (d.name ?? d.id) : null });
      }
    }
    return this.#owners;
  }

  #count(what: 'invalid' | 'unknownOwner', n: number, reason: string): void {
    const before = this.stats[what];
    this.stats[what] += n;
    // The first, then one in a thousand: a flood of bad lines must not flood the control plane's log.
    if (before === 0 || Math.floor(before / 1000) !== Math.floor(this.stats[what] / 1000))
      this.#log.warn({ reason, count: this.stats[what] }, 'gateway access log lines skipped');
  }
}

const ownerKey = (r: GatewayRequest) =>
  `${r.orgId};${r.projectId};${r.componentId};${r.environmentId};${r.deploymentId ?? '-'}`;

const REQUEST_COLUMNS: readonly Column<Insertable<GatewayRequestsTable>>[] = [
  ['org_id', 'text'],
  ['component_id', 'text'],
  ['environment_id', 'text'],
  ['deployment_id', 'text'],
  ['deployment', 'text'],
  ['at_us', 'bigint'],
  ['method', 'text'],
  ['path', 'text'],
  ['status', 'integer'],
  ['outcome', 'text'],
  ['duration_ms', 'double precision'],
  ['bytes', 'bigint'],
  ['request_id', 'text'],
];
