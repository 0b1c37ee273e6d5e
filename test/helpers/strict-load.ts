import { Agent, request } from 'node:http';

export interface StrictLoadResult {
  ok: number;
  /** Every request that did not get a whole 200: resets, refused connections, other statuses. */
  failed: number;
  failures: string[];
}

/**
 * `clients` concurrent loops through a gateway until `stop()`, alternating GET and POST (a small
 * body), half on keep-alive connections and half on a new connection each. Nothing is retried:
 * a reset, a refused connection or a non-200 is a failure, as a client that does not retry (or a
 * POST) would see it.
 */
export function startStrictLoad(
  port: number,
  host: string,
  paths: string[],
  clients = 8,
): { stop: () => Promise<StrictLoadResult> } {
  const result: StrictLoadResult = { ok: 0, failed: 0, failures: [] };
  const keepAlive = new Agent({ keepAlive: true, maxSockets: clients });
  let running = true;
  let n = 0;
  const one = (agent: Agent | false) =>
    new Promise<void>((resolve) => {
      const i = n++;
      const post = i % 2 === 1;
      const path = paths[i % paths.length]!;
      const fail = (why: string) => {
        result.failed++;
        if (result.failures.length < 20) result.failures.push(`${post ? 'POST' : 'GET'} ${path}: ${why}`);
        resolve();
      };
      const req = request(
        {
          host: '127.0.0.1',
          port,
          path,
          method: post ? 'POST' : 'GET',
          headers: { host, ...(post ? { 'content-type': 'application/json' } : {}) },
          agent,
          timeout: 10_000,
        },
        (res) => {
          res.resume();
          res.on('end', () => {
            if (res.statusCode === 200) {
              result.ok++;
              resolve();
            } else fail(`status ${res.statusCode}`);
          });
          res.on('error', (err) => fail(err.message));
        },
      );
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', (err: NodeJS.ErrnoException) => fail(err.code ?? err.message));
      req.end(post ? JSON.stringify({ n: i }) : undefined);
    });
  const loops = Array.from({ length: clients }, async (_, c) => {
    while (running) await one(c % 2 === 0 ? keepAlive : false);
  });
  return {
    async stop() {
      running = false;
      await Promise.all(loops);
      keepAlive.destroy();
      return result;
    },
  };
}
