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
  const timedGets = async (n: number, until?: () => boolean) => {
    const ms: number[] = [];
    for (let i = 0; i < n || (until && !until()); i++) {
      const t0 = performance.now();
      await api('GET', `${P}/spam`);
      ms.push(performance.now() - t0);
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
    // The engine says when every replica has printed its last line; only then is the store asked
    // (each replica's newest stored line), so the check does not load the store it measures while
    // the lines pour in. A replica whose lines are not stored yet makes that read walk the index.
    const printedAll = async () => {
      const list = await docker.listContainers({ filters: { label: [`rondo.project=${PROJECT}`] } });
      if (list.length < REPLICAS) return false;
      const tails = await Promise.all(
        list.map((c) => docker.getContainer(c.Id).logs({ stdout: true, tail: 1 }).then(String)),
      );
      return tails.every((t) => t.includes('finished'));
    };
    const replicaDone = async (r: number) => {
      const page = await api('GET', `${P}/spam/logs?environment=development&replica=${r}&limit=1`);
      return page.items[0]?.message === 'finished';
    };
    const overdue = () => {
      if (performance.now() - t0 > 600_000) throw new Error('the lines were not all stored in 10 minutes');
    };
    while (!(await printedAll())) {
      overdue();
      await sleep(500);
    }
    const pending = new Set(Array.from({ length: REPLICAS }, (_, r) => r));
    while (pending.size > 0) {
      for (const r of [...pending]) if (await replicaDone(r)) pending.delete(r);
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
  } finally {
    await server.stop('SIGTERM');
    const networks = await docker.listNetworks({ filters: { label: [`rondo.project=${PROJECT}`] } });
    for (const owner of new Set(networks.map((n) => n.Labels?.['rondo.instance']).filter(Boolean)))
      await cleanupInstance(owner!);
    await caddy.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  await benchIngestContention();
  await benchAccessLogLatency();
  await benchLogQuery('pglite');
  await benchLogQuery('postgres');
}
