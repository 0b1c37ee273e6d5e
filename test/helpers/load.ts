import { request } from 'node:http';

export interface LoadResult {
  ok: number;
  failed: number;
  failures: string[];
  /** Connections reset before any response byte (each also counted as failed). */
  resets: number;
  /** Response bodies in the order they completed. */
  bodies: string[];
}

type Outcome =
  | { kind: 'response'; status: number; body: string }
  | { kind: 'reset' }
  | { kind: 'error'; message: string };

function once(port: number, host: string, path: string, address: string): Promise<Outcome> {
  return new Promise((resolve) => {
    let gotResponse = false;
    const req = request(
      { host: address, port, path, headers: { host }, agent: false, timeout: 10_000 },
      (res) => {
        gotResponse = true;
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ kind: 'response', status: res.statusCode ?? 0, body }));
        res.on('error', (err) => resolve({ kind: 'error', message: err.message }));
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (err: NodeJS.ErrnoException) => {
      if (!gotResponse && err.code === 'ECONNRESET') resolve({ kind: 'reset' });
      else resolve({ kind: 'error', message: err.message });
    });
    req.end();
  });
}

/**
 * `clients` concurrent loops of GET requests through the gateway until `stop()`, each on a new
 * connection. Nothing is retried: a reset, any other error or a non-200 counts as a failure, as
 * a client that does not retry sees it (G7: the gateway's reloads reset no connection).
 */
export function startLoad(
  port: number,
  host: string,
  path: string,
  clients = 20,
  /** Where the gateway listens (a cluster node's address); this host's loopback by default. */
  address = '127.0.0.1',
): { stop: () => Promise<LoadResult> } {
  const result: LoadResult = { ok: 0, failed: 0, failures: [], resets: 0, bodies: [] };
  let running = true;
  const one = async () => {
    const outcome = await once(port, host, path, address);
    if (outcome.kind === 'response' && outcome.status === 200) {
      result.ok++;
      result.bodies.push(outcome.body);
      return;
    }
    if (outcome.kind === 'reset') result.resets++;
    result.failed++;
    result.failures.push(
      outcome.kind === 'response'
        ? `${outcome.status} ${outcome.body.slice(0, 120)}`
        : outcome.kind === 'reset'
          ? 'connection reset'
          : outcome.message,
    );
  };
  const loops = Array.from({ length: clients }, async () => {
    while (running) await one();
  });
  return {
    async stop() {
      running = false;
      await Promise.all(loops);
      return result;
    },
  };
}
