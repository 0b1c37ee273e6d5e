import pg from 'pg';

/** How long a broken LISTEN connection waits before connecting again. */
const RECONNECT_MS = 1000;

/**
 * LISTEN on PostgreSQL through one connection of its own (a pooled connection would be handed to
 * queries and lose its LISTENs). A connection the server drops is replaced after a second; what
 * was notified meanwhile is lost, so listeners keep a slow timer of their own (docs/console.md).
 */
export class PgListener {
  readonly #url: string;
  readonly #channels = new Map<string, Set<(payload: string) => void>>();
  #client: pg.Client | undefined;
  #connecting: Promise<pg.Client> | undefined;
  #closed = false;
  #retry: NodeJS.Timeout | undefined;

  constructor(url: string) {
    this.#url = url;
  }

  async listen(channel: string, onPayload: (payload: string) => void): Promise<() => Promise<void>> {
    const listeners = this.#channels.get(channel) ?? new Set();
    const first = listeners.size === 0;
    listeners.add(onPayload);
    this.#channels.set(channel, listeners);
    const client = await this.#connect();
    if (first) await client.query(`LISTEN ${pg.escapeIdentifier(channel)}`);
    return async () => {
      listeners.delete(onPayload);
      if (listeners.size > 0 || this.#channels.get(channel) !== listeners) return;
      this.#channels.delete(channel);
      await this.#client?.query(`UNLISTEN ${pg.escapeIdentifier(channel)}`).catch(() => {});
    };
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#retry);
    const client = this.#client;
    this.#client = undefined;
    await client?.end().catch(() => {});
  }

  #connect(): Promise<pg.Client> {
    if (this.#client) return Promise.resolve(this.#client);
    this.#connecting ??= (async () => {
      const client = new pg.Client({ connectionString: this.#url });
      client.on('notification', (n) => {
        for (const listener of this.#channels.get(n.channel) ?? []) listener(n.payload ?? '');
      });
      client.on('error', () => this.#lost(client));
      client.on('end', () => this.#lost(client));
      try {
        await client.connect();
        for (const channel of this.#channels.keys())
          await client.query(`LISTEN ${pg.escapeIdentifier(channel)}`);
        this.#client = client;
      } catch (err) {
        await client.end().catch(() => {});
        throw err;
      } finally {
        this.#connecting = undefined;
      }
      return client;
    })();
    return this.#connecting;
  }

  #lost(client: pg.Client): void {
    if (this.#client !== client) return;
    this.#client = undefined;
    if (this.#closed || this.#channels.size === 0) return;
    const again = () => {
      this.#retry = undefined;
      if (!this.#closed) this.#connect().catch(() => (this.#retry = setTimeout(again, RECONNECT_MS).unref()));
    };
    this.#retry = setTimeout(again, RECONNECT_MS).unref();
  }
}
