import { PGlite } from '@electric-sql/pglite';
import { initialiseInChild, PGLITE_START_PARAMS } from './pglite-init.js';

/**
 * PGlite behind the subset of `pg.Pool` that Kysely's PostgresDialect uses. PGlite has a single
 * connection, so `connect()` hands it to one caller at a time: a transaction holds it until
 * release, and other queries queue behind it instead of interleaving into the transaction.
 */
export class PGlitePool {
  readonly #db: PGlite;
  #tail: Promise<void> = Promise.resolve();

  private constructor(db: PGlite) {
    this.#db = db;
  }

  /** Opens (and on first use initialises) the database in `dataDir`, or in memory for `memory://`. */
  static async open(dataDir: string): Promise<PGlitePool> {
    if (!dataDir.startsWith('memory://')) await initialiseInChild(dataDir);
    const db = await PGlite.create(dataDir, { startParams: PGLITE_START_PARAMS });
    return new PGlitePool(db);
  }

  async connect(): Promise<{
    query: (
      sql: string,
      params: readonly unknown[],
    ) => Promise<{ command: string; rowCount: number; rows: unknown[] }>;
    release: () => void;
  }> {
    let release!: () => void;
    const mine = new Promise<void>((resolve) => {
      release = resolve;
    });
    const previous = this.#tail;
    this.#tail = previous.then(() => mine);
    await previous;
    const db = this.#db;
    return {
      async query(sql, params) {
        const result = await db.query(sql, params as unknown[]);
        const command = /^\s*(\w+)/.exec(sql)?.[1]?.toUpperCase() ?? '';
        return { command, rowCount: result.affectedRows ?? result.rows.length, rows: result.rows };
      },
      release,
    };
  }

  async end(): Promise<void> {
    await this.#tail;
    await this.#db.close();
  }
}
