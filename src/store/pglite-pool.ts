import { initialiseInChild, PGLITE_START_PARAMS } from './pglite-init.js';
import { type PGliteEngine, PGliteThread } from './pglite-thread.js';

type Connection = {
  query: (
    sql: string,
    params: readonly unknown[],
  ) => Promise<{ command: string; rowCount: number; rows: unknown[] }>;
  release: () => void;
};

interface Waiter {
  background: boolean;
  since: number;
  grant: () => void;
}

/** A background caller waits this long after the others' last query, so a request's next query goes first. */
const FOREGROUND_GAP_MS = 5;
/**
 * …but not longer than this in all, so steady foreground traffic cannot starve it. Short: under
 * a steady stream of requests a batch waits this long each time, which bounds ingestion (250 ms
 * held it near 1,000 lines/s), while a request waits for at most one batch either way.
 */
const BACKGROUND_MAX_WAIT_MS = 50;

/**
 * PGlite behind the subset of `pg.Pool` that Kysely's PostgresDialect uses. PGlite has a single
 * connection, so `connect()` hands it to one caller at a time: a transaction holds it until
 * release, and other queries queue behind it instead of interleaving into the transaction.
 *
 * Background writers (log collectors) connect through `background()`: they get the connection
 * only when no other caller waits and none has used it for a moment. A collector writing batch
 * after batch would otherwise take it between every two queries of an API request (the request's
 * next query is issued a moment after its previous one returns), and a request of five queries
 * would wait for five batches (docs/observability.md, figures).
 */
export class PGlitePool {
  readonly #db: PGliteEngine;
  #busy = false;
  #waiting: Waiter[] = [];
  #lastForeground = 0;
  #timer: NodeJS.Timeout | undefined;

  private constructor(db: PGliteEngine) {
    this.#db = db;
  }

  /**
   * Opens (and on first use initialises) the database in `dataDir`, or in memory for `memory://`,
   * on a thread of its own (`pglite-thread.ts`); `thread: 'main'` runs it on the caller's thread,
   * as before, for comparison (`RONDO_PGLITE_THREAD=main`).
   */
  static async open(dataDir: string, thread: 'worker' | 'main' = 'worker', nice = 0): Promise<PGlitePool> {
    if (!dataDir.startsWith('memory://')) await initialiseInChild(dataDir);
    if (thread === 'main') {
      const { PGlite } = await import('@electric-sql/pglite');
      return new PGlitePool(await PGlite.create(dataDir, { startParams: PGLITE_START_PARAMS }));
    }
    return new PGlitePool(await PGliteThread.open(dataDir, PGLITE_START_PARAMS, nice));
  }

  connect(): Promise<Connection> {
    return this.#acquire(false);
  }

  /** The same database for background writers, as a pool whose `end` leaves it open. */
  background(): { connect: () => Promise<Connection>; end: () => Promise<void> } {
    return { connect: () => this.#acquire(true), end: async () => {} };
  }

  async #acquire(background: boolean): Promise<Connection> {
    await new Promise<void>((grant) => {
      this.#waiting.push({ background, since: Date.now(), grant });
      this.#next();
    });
    const db = this.#db;
    let released = false;
    return {
      async query(sql, params) {
        const result = await db.query(sql, params as unknown[]);
        const command = /^\s*(\w+)/.exec(sql)?.[1]?.toUpperCase() ?? '';
        return { command, rowCount: result.affectedRows ?? result.rows.length, rows: result.rows };
      },
      release: () => {
        if (released) return;
        released = true;
        if (!background) this.#lastForeground = Date.now();
        this.#busy = false;
        this.#next();
      },
    };
  }

  /** Hands the connection on: the oldest foreground caller first, else a background one when due. */
  #next(): void {
    if (this.#busy || this.#waiting.length === 0) return;
    const now = Date.now();
    let i = this.#waiting.findIndex((w) => !w.background);
    const oldestBackground = this.#waiting.findIndex((w) => w.background);
    const starved =
      oldestBackground >= 0 && now - this.#waiting[oldestBackground]!.since >= BACKGROUND_MAX_WAIT_MS;
    if (starved) i = oldestBackground;
    else if (i < 0) {
      const quietFor = now - this.#lastForeground;
      if (quietFor < FOREGROUND_GAP_MS) {
        // Try again when the gap has passed (or earlier, when someone else connects or releases).
        this.#timer ??= setTimeout(() => {
          this.#timer = undefined;
          this.#next();
        }, FOREGROUND_GAP_MS - quietFor);
        return;
      }
      i = oldestBackground;
    }
    const [w] = this.#waiting.splice(i, 1);
    this.#busy = true;
    w!.grant();
  }

  /** LISTEN on `channel`; PGlite delivers a notification after the query that committed it. */
  async listen(channel: string, onPayload: (payload: string) => void): Promise<() => Promise<void>> {
    // Through the pool, so LISTEN never lands inside another caller's transaction.
    const connection = await this.#acquire(false);
    try {
      const unlisten = await this.#db.listen(channel, onPayload);
      return async () => {
        const again = await this.#acquire(false);
        try {
          await unlisten();
        } finally {
          again.release();
        }
      };
    } finally {
      connection.release();
    }
  }

  async end(): Promise<void> {
    while (this.#busy || this.#waiting.length) await new Promise((r) => setTimeout(r, 5));
    if (this.#timer) clearTimeout(this.#timer);
    await this.#db.close();
  }
}
