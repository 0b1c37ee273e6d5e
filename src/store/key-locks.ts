import { type Kysely, sql } from 'kysely';
import type { Database } from './schema.js';
import type { Store } from './store.js';

/**
 * A claim on one reconcile key across control planes sharing a store, so a key is never
 * reconciled by two of them at once. On PostgreSQL it is a session advisory lock on one
 * connection kept for the purpose: a control plane that dies (kill -9) loses its connection and,
 * with it, its locks at once, so a restarted one resumes without waiting for a lease to expire.
 * PGlite's data directory belongs to one process, so there the work queue's own rule (a key is
 * never handled twice at once) is the whole claim.
 */
export interface KeyLocks {
  /** True when this process now holds `key` (it did not before); false when another one does. */
  tryLock(key: string): Promise<boolean>;
  unlock(key: string): Promise<void>;
  close(): Promise<void>;
}

/** Advisory locks of reconcile keys, apart from any other use of advisory locks. */
const LOCK_CLASS = 0x52_4b; // "RK"

export function keyLocks(store: Store): KeyLocks {
  if (store.driver === 'pglite')
    return { tryLock: async () => true, unlock: async () => undefined, close: async () => undefined };
  return new SessionLocks(store.db);
}

interface Session {
  conn: Kysely<Database>;
  end: () => void;
  ended: Promise<unknown>;
}

class SessionLocks implements KeyLocks {
  readonly #db: Kysely<Database>;
  #session: Promise<Session> | undefined;

  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  async tryLock(key: string): Promise<boolean> {
    const conn = await this.#connection();
    try {
      const { rows } = await sql<{ locked: boolean }>`
        select pg_try_advisory_lock(${LOCK_CLASS}, hashtext(${key})) as locked`.execute(conn);
      return rows[0]?.locked === true;
    } catch (err) {
      this.#drop();
      throw err;
    }
  }

  async unlock(key: string): Promise<void> {
    const conn = await this.#connection();
    try {
      await sql`select pg_advisory_unlock(${LOCK_CLASS}, hashtext(${key}))`.execute(conn);
    } catch (err) {
      // A lost connection has released every lock already.
      this.#drop();
      throw err;
    }
  }

  async close(): Promise<void> {
    const session = this.#session;
    this.#session = undefined;
    if (!session) return;
    const s = await session.catch(() => undefined);
    // The connection goes back to the pool, where a session lock would outlive this holder.
    if (s) await sql`select pg_advisory_unlock_all()`.execute(s.conn).catch(() => undefined);
    s?.end();
    await s?.ended.catch(() => undefined);
  }

  #drop(): void {
    void this.close();
  }

  /** One pooled connection held until `close`: session locks live and die with it. */
  #connection(): Promise<Kysely<Database>> {
    if (!this.#session) {
      let end: () => void = () => undefined;
      const released = new Promise<void>((r) => {
        end = r;
      });
      let opened: (conn: Kysely<Database>) => void = () => undefined;
      const conn = new Promise<Kysely<Database>>((resolve) => {
        opened = resolve;
      });
      const ended = this.#db.connection().execute(async (c) => {
        opened(c);
        await released;
      });
      const session = Promise.race([
        conn.then((c): Session => ({ conn: c, end, ended })),
        ended.then(() => {
          throw new Error('the lock connection closed before it opened');
        }),
      ]);
      ended
        .catch(() => undefined)
        .finally(() => {
          if (this.#session === session) this.#session = undefined;
        });
      this.#session = session;
    }
    return this.#session.then((s) => s.conn);
  }
}
