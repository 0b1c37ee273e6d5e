import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';

/** What the pool needs of a PGlite: PGlite itself has this shape, and so does `PGliteThread`. */
export interface PGliteEngine {
  query(sql: string, params: unknown[]): Promise<{ rows: unknown[]; affectedRows?: number }>;
  listen(channel: string, onPayload: (payload: string) => void): Promise<() => Promise<void>>;
  close(): Promise<void>;
}

type Request =
  | { op: 'query'; sql: string; params: unknown[] }
  | { op: 'listen'; channel: string }
  | { op: 'unlisten'; listenId: number }
  | { op: 'close' };

type Reply =
  | { id: number; result?: unknown; error?: Record<string, unknown> }
  | { notify: number; payload: string };

/**
 * The worker: plain JavaScript evaluated as a script, so it runs the same from the sources (tests,
 * through vitest) and from `dist/`. It opens PGlite and answers one message at a time; the pool in
 * the main thread already hands the one connection to one caller at a time.
 */
const WORKER = `
const fields = (e) => {
  const o = { message: String((e && e.message) || e), name: e && e.name };
  for (const k of Object.keys(e || {})) {
    const v = e[k];
    if (v === null || ['string', 'number', 'boolean'].includes(typeof v)) o[k] = v;
  }
  return o;
};
(async () => {
  // import(), not require: the thread may inherit --input-type=module and run as a module.
  const { parentPort, workerData } = await import('node:worker_threads');
  // On Linux a thread's nice value is its own: this lowers this thread only, not the server's.
  if (workerData.nice) {
    try {
      (await import('node:os')).setPriority(0, workerData.nice);
    } catch {}
  }
  let db;
  try {
    const { PGlite } = await import(workerData.moduleUrl);
    db = await PGlite.create(workerData.dataDir, { startParams: workerData.startParams });
  } catch (e) {
    parentPort.postMessage({ id: 0, error: fields(e) });
    return;
  }
  const unlisten = new Map();
  parentPort.on('message', async (m) => {
    try {
      let result;
      if (m.op === 'query') {
        const r = await db.query(m.sql, m.params);
        result = { rows: r.rows, affectedRows: r.affectedRows };
      } else if (m.op === 'listen') {
        unlisten.set(m.id, await db.listen(m.channel, (payload) => parentPort.postMessage({ notify: m.id, payload })));
      } else if (m.op === 'unlisten') {
        await unlisten.get(m.listenId)?.();
        unlisten.delete(m.listenId);
      } else if (m.op === 'close') {
        await db.close();
      }
      parentPort.postMessage({ id: m.id, result });
    } catch (e) {
      parentPort.postMessage({ id: m.id, error: fields(e) });
    }
  });
  parentPort.postMessage({ id: 0, result: 'ready' });
})();
`;

/**
 * PGlite on a worker thread. PGlite runs PostgreSQL as WebAssembly on the thread that calls it,
 * so on the main thread every statement (a log collector's batch insert included) blocks the
 * server's event loop for its whole length, and the store took most of the control plane's one
 * thread under log ingestion (docs/observability.md, figures). Here the WebAssembly runs on its
 * own thread and the main thread only posts the SQL and its parameters and reads the rows back.
 *
 * Rows and parameters cross by structured clone, which keeps what PGlite returns (Date,
 * Uint8Array, nested JSON). Errors cross as their own fields (code, constraint, detail, …), so the
 * store's error mapping sees what it saw before.
 */
export class PGliteThread implements PGliteEngine {
  readonly #worker: Worker;
  #nextId = 1;
  readonly #pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  readonly #listeners = new Map<number, (payload: string) => void>();
  #failed: Error | undefined;

  private constructor(worker: Worker) {
    this.#worker = worker;
    // Held only while a request is out: an idle store keeps no process alive (as PGlite itself).
    worker.unref();
    worker.on('message', (m: Reply) => this.#receive(m));
    worker.on('error', (err) => this.#fail(err));
    worker.on('exit', (code) => this.#fail(new Error(`the store's thread exited (code ${code})`)));
  }

  /** `nice`: the thread's scheduling priority (0 as the server, up to 19 to give way to it under load). */
  static async open(dataDir: string, startParams: string[], nice = 0): Promise<PGliteThread> {
    const moduleUrl = pathToFileURL(createRequire(import.meta.url).resolve('@electric-sql/pglite')).href;
    const worker = new Worker(WORKER, {
      eval: true,
      workerData: { moduleUrl, dataDir, startParams, nice },
    });
    const thread = new PGliteThread(worker);
    await thread.#expect(0);
    return thread;
  }

  async query(sql: string, params: unknown[]): Promise<{ rows: unknown[]; affectedRows?: number }> {
    return (await this.#send({ op: 'query', sql, params })) as { rows: unknown[]; affectedRows?: number };
  }

  async listen(channel: string, onPayload: (payload: string) => void): Promise<() => Promise<void>> {
    const id = this.#nextId;
    this.#listeners.set(id, onPayload);
    try {
      await this.#send({ op: 'listen', channel });
    } catch (err) {
      this.#listeners.delete(id);
      throw err;
    }
    return async () => {
      this.#listeners.delete(id);
      await this.#send({ op: 'unlisten', listenId: id });
    };
  }

  async close(): Promise<void> {
    if (!this.#failed) await this.#send({ op: 'close' });
    this.#failed ??= new Error('the store is closed');
    await this.#worker.terminate();
  }

  #send(request: Request): Promise<unknown> {
    if (this.#failed) return Promise.reject(this.#failed);
    const id = this.#nextId++;
    const answer = this.#expect(id);
    this.#worker.postMessage({ id, ...request });
    return answer;
  }

  #expect(id: number): Promise<unknown> {
    if (this.#pending.size === 0) this.#worker.ref();
    return new Promise((resolve, reject) => this.#pending.set(id, { resolve, reject }));
  }

  #receive(m: Reply): void {
    if ('notify' in m) {
      this.#listeners.get(m.notify)?.(m.payload);
      return;
    }
    const waiter = this.#pending.get(m.id);
    if (!waiter) return;
    this.#pending.delete(m.id);
    if (this.#pending.size === 0) this.#worker.unref();
    if (m.error) waiter.reject(Object.assign(new Error(String(m.error.message)), m.error));
    else waiter.resolve(m.result);
  }

  #fail(err: Error): void {
    this.#failed ??= err;
    for (const waiter of this.#pending.values()) waiter.reject(err);
    this.#pending.clear();
  }
}
