/**
 * F1 control-plane benchmark: 1,000 components in one organization on the embedded store,
 * driven by autocannon from this process against `rondo server` running as a separate process.
 * Prints p50/p99 for GET a component, list a page of 100, create; idle RSS; ready time.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { SERVER_NODE_FLAGS } from '../src/cli/commands/server-actions.js';
import { createTestDatabase } from '../test/helpers/stores.js';

const MAIN = join(import.meta.dirname, '..', 'dist', 'cli', 'main.js');
const TOKEN = 'rondo_bench_admin_token_0123456789abcdef';
const PORT = 7391;
const BASE = `http://127.0.0.1:${PORT}`;
const auth = { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' };

async function start(
  dataDir: string,
  extraEnv: NodeJS.ProcessEnv = {},
): Promise<{ child: ChildProcess; readyMs: number }> {
  const t0 = performance.now();
  const child = spawn(
    process.execPath,
    [...SERVER_NODE_FLAGS, MAIN, 'server', '--port', String(PORT), '--data-dir', dataDir],
    {
      // The control plane alone: the data plane has its own benchmark.
      env: {
        ...process.env,
        RONDO_BOOTSTRAP_TOKEN: TOKEN,
        RONDO_LOG_LEVEL: 'warn',
        RONDO_PLATFORM: 'off',
        ...extraEnv,
      },
      stdio: 'ignore',
    },
  );
  for (;;) {
    try {
      if ((await fetch(`${BASE}/api/v1/healthz`)).ok) return { child, readyMs: performance.now() - t0 };
    } catch {
      // not yet listening
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function stop(child: ChildProcess): Promise<void> {
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
}

function rssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)![1]) / 1024;
}

async function load(title: string, opts: autocannon.Options): Promise<autocannon.Result> {
  const result = await autocannon({ ...opts, headers: { ...auth, ...opts.headers } });
  const errors = result.errors + result.non2xx;
  console.log(
    `${title.padEnd(34)} p50 ${result.latency.p50.toFixed(1).padStart(5)} ms   p99 ${result.latency.p99.toFixed(1).padStart(5)} ms   ${Math.round(result.requests.average)} req/s   (${result.requests.total} requests, ${errors} errors)`,
  );
  if (errors > 0) throw new Error(`${title}: ${errors} failed requests`);
  return result;
}

export async function benchControlPlane(): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), 'rondo-bench-'));
  try {
    const first = await start(dataDir);
    console.log(`ready, new data directory:          ${first.readyMs.toFixed(0)} ms`);
    await fetch(`${BASE}/api/v1/orgs/default/projects`, {
      method: 'POST',
      headers: auth,
      body: JSON.stringify({ name: 'bench' }),
    });
    await new Promise((r) => setTimeout(r, 1000));
    console.log(`idle RSS after start:               ${rssMb(first.child.pid!).toFixed(0)} MB`);

    let n = 0;
    await load('create 1,000 components (1 conn)', {
      url: `${BASE}/api/v1/orgs/default/projects/bench/components`,
      method: 'POST',
      connections: 1,
      amount: 1000,
      requests: [
        {
          setupRequest: (req: autocannon.Request) => ({
            ...req,
            body: JSON.stringify({
              name: `svc-${String(n++).padStart(4, '0')}`,
              type: 'service',
              source: { repoUrl: 'https://github.com/acme/monorepo.git', path: `services/svc-${n}` },
              buildPreset: 'nodejs',
              buildConfigs: { buildPackLangVersion: '20' },
            }),
          }),
        },
      ],
    });
    await stop(first.child);

    const second = await start(dataDir);
    console.log(`ready, existing data directory:     ${second.readyMs.toFixed(0)} ms`);
    await new Promise((r) => setTimeout(r, 1000));
    console.log(`idle RSS after restart:             ${rssMb(second.child.pid!).toFixed(0)} MB`);
    const one = `${BASE}/api/v1/orgs/default/projects/bench/components/svc-0500`;
    const page = `${BASE}/api/v1/orgs/default/projects/bench/components?limit=100&cursor=${Buffer.from(JSON.stringify({ after: 'bench/svc-0400' })).toString('base64url')}`;
    // One connection measures the latency a user (CLI, console) sees; ten measure throughput,
    // where latency is mostly queueing behind the embedded store's single connection.
    await load('GET component (1 conn, 10 s)', { url: one, connections: 1, duration: 10 });
    await load('list page of 100 (1 conn, 10 s)', { url: page, connections: 1, duration: 10 });
    await load('GET component (10 conns, 10 s)', { url: one, connections: 10, duration: 10 });
    await load('list page of 100 (10 conns, 10 s)', { url: page, connections: 10, duration: 10 });
    await new Promise((r) => setTimeout(r, 3000));
    console.log(`idle RSS after load (1000 comps):   ${rssMb(second.child.pid!).toFixed(0)} MB`);
    await stop(second.child);

    // For comparison: the same control plane with its store on the machine's PostgreSQL.
    const db = await createTestDatabase();
    try {
      const pg = await start(dataDir, { RONDO_DATABASE_URL: db.url });
      await new Promise((r) => setTimeout(r, 1000));
      console.log(
        `idle RSS, PostgreSQL store:         ${rssMb(pg.child.pid!).toFixed(0)} MB (ready in ${pg.readyMs.toFixed(0)} ms)`,
      );
      await stop(pg.child);
    } finally {
      await db.drop();
    }
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}
