/**
 * G3 benchmark, with the control plane as its own process on the real engine and Caddy:
 *  - log ingestion: 10 replicas each print 20,000 JSON lines at once; lines per second from the
 *    deploy request until every replica's last line is stored and found through the API (so it
 *    includes the rollout: a lower bound of the collector's rate);
 *  - `GET component` latency, p50/p99 of sequential requests, idle and during that ingestion.
 * Then, without the engine: the same contention with the collector on the store's shared and
 * background handles (`ingest-contention.ts`), the gateway latency the access log adds
 * (`access-log-latency.ts`), and a runtime log query over 1,000,000 lines (`log-query.ts`).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { buildBusyboxImage, cleanupInstance, docker, TEST_IMAGE_LABEL } from '../test/helpers/images.js';
import { platformServerEnv, startCaddy } from '../test/helpers/platform.js';
import { ensureBuilt, startServer } from '../test/helpers/processes.js';
import { benchAccessLogLatency } from './access-log-latency.js';
import { apiClient } from './api-client.js';
import { benchIngestContention } from './ingest-contention.js';
import { benchLogQuery } from './log-query.js';

const TOKEN = 'rondo_bench_observability_admin_token_0123456789';
const PROJECT = `bench${Math.random().toString(36).slice(2, 8)}`;
const P = `/orgs/default/projects/${PROJECT}/components`;
const REPLICAS = 10;
const LINES = 20_000;
const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.ceil((p / 100) * xs.length) - 1]!;

async function buildSpamImage(): Promise<string> {
  const script = [
    'export PATH=/bin',
    '/bin/busybox --install -s /bin',
    'httpd -p 8080 -h /www',
    `i=0; while [ $i -lt ${LINES} ]; do echo "{\\"level\\":\\"info\\",\\"msg\\":\\"line $i\\"}"; i=$((i+1)); done`,
    'echo "finished"',
    'exec sleep 100000',
    '',
  ].join('\n');
  return buildBusyboxImage(
    'rondo-bench-spam:v1',
    [
      'FROM scratch',
      'COPY busybox /bin/busybox',
      'COPY run.sh /run.sh',
      'COPY www /www',
      `LABEL ${TEST_IMAGE_LABEL}=1`,
      'ENTRYPOINT ["/bin/busybox", "sh", "/run.sh"]',
    ].join('\n'),
    { 'run.sh': script, 'www/index.html': 'ok' },
  );
}

export async function benchObservability(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'rondo-bench-observability-'));
  ensureBuilt();
  const image = await buildSpamImage();
  const caddy = await startCaddy(dir);
  const server = await startServer(await platformServerEnv(caddy.adminListen, join(dir, 'data'), TOKEN));
  const api = apiClient(server.url, TOKEN);
  /** Each GET's time, and when the slowest began (ms since the epoch, to match the server's log). */
  const slowest: [number, number][] = [];
  const timedGets = async (n: number, until?: () => boolean) => {
    const ms: number[] = [];
    for (let i = 0; i < n || (until && !until()); i++) {
      const t0 = performance.now();
      const at = Date.now();
      await api('GET', `${P}/spam`);
      const took = performance.now() - t0;
      ms.push(took);
      if (until && took > 200) slowest.push([at, took]);
      if (until?.()) break;
    }
    return ms;
  };
  try {
    await api('POST', '/orgs/default/projects', { name: PROJECT });
    await api('POST', P, { name: 'spam', type: 'service', source: { image }, endpoints: [{ port: 8080 }] });
    await timedGets(20);
    const idle = await timedGets(300);

    const t0 = performance.now();
    await api('POST', `${P}/spam/deployments`, { environment: 'development', replicas: REPLICAS });
    let done = false;
    const busyGets = timedGets(0, () => done);
    let elapsed = 0;
    // The engine says when each replica printed its last line (with the engine's timestamp);
    // then the store is asked for that replica's lines from that moment on, a short range of
    // its time index. Asking for a replica's newest line without a time walks the index back
    // through every other replica's lines: the bench then loaded the store it measures.
    const printedAt = async (): Promise<Map<string, string> | undefined> => {
      const list = await docker.listContainers({ filters: { label: [`rondo.project=${PROJECT}`] } });
      if (list.length < REPLICAS) return undefined;
      const at = new Map<string, string>();
      for (const c of list) {
        const tail = String(
          await docker.getContainer(c.Id).logs({ stdout: true, tail: 1, timestamps: true }),
        );
        const m = /(\d{4}-\d{2}-\d{2}T[\d:.]+Z) finished/.exec(tail);
        if (!m?.[1]) return undefined;
        at.set(c.Labels['rondo.replica'] ?? '', new Date(Date.parse(m[1]) - 1).toISOString());
      }
      return at;
    };
    const overdue = () => {
      if (performance.now() - t0 > 600_000) throw new Error('the lines were not all stored in 10 minutes');
    };
    let printed = await printedAt();
    while (!printed) {
      overdue();
      await sleep(500);
      printed = await printedAt();
    }
    const pending = new Map(printed);
    while (pending.size > 0) {
      for (const [r, since] of [...pending]) {
        const page = await api(
          'GET',
          `${P}/spam/logs?environment=development&replica=${r}&since=${since}&limit=20`,
        );
        if (page.items.some((l: { message: string }) => l.message === 'finished')) pending.delete(r);
      }
      if (pending.size === 0) break;
      overdue();
      await sleep(500);
    }
    elapsed = (performance.now() - t0) / 1000;
    done = true;
    const busy = await busyGets;
    const total = REPLICAS * (LINES + 1);
    console.log(
      `log ingestion: ${total} lines from ${REPLICAS} replicas stored in ${elapsed.toFixed(1)} s (from the deploy request): ${Math.round(total / elapsed)} lines/s`,
    );
    const row = (what: string, xs: number[]) =>
      console.log(
        `GET component ${what}: p50 ${pct(xs, 50).toFixed(1)} ms, p99 ${pct(xs, 99).toFixed(1)} ms (${xs.length} requests)`,
      );
    row('idle', idle);
    row('during ingestion', busy);
    console.log(`p99 during ingestion / idle: ${(pct(busy, 99) / pct(idle, 99)).toFixed(2)}×`);
    const deployAt = Date.now() - (performance.now() - t0);
    console.log(
      `GETs over 200 ms during ingestion, s after the deploy request: ${slowest.map(([at, took]) => `${((at - deployAt) / 1000).toFixed(1)} s (${took.toFixed(0)} ms)`).join(', ') || 'none'}`,
    );
  } finally {
    await server.stop('SIGTERM');
    const networks = await docker.listNetworks({ filters: { label: [`rondo.project=${PROJECT}`] } });
    for (const owner of new Set(networks.map((n) => n.Labels?.['rondo.instance']).filter(Boolean)))
      await cleanupInstance(owner!);
    await caddy.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  // BENCH_ENGINE_ONLY=1: the engine part alone (re-measuring ingestion without the long rest).
  if (process.env.BENCH_ENGINE_ONLY) return;
  await benchIngestContention();
  await benchAccessLogLatency();
  await benchLogQuery('pglite');
  await benchLogQuery('postgres');
}
