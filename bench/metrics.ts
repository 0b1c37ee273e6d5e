/**
 * `npm run bench metrics` (issue G3): the metrics query for one component over 24 h at 1-minute
 * steps through the API, from the real Prometheus holding 24 h of that component's series
 * backfilled with promtool (Debian's prometheus ships it), against Prometheus' own `/-/ready`
 * round trip measured in the same run; and the resident memory of Prometheus and of the API.
 * Engine-free: the API runs in this process over an in-memory store, Prometheus as `rondo up`
 * starts it (src/platform/prometheus.ts).
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createWriteStream, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { createApi } from '../src/api/app.js';
import { bootstrap } from '../src/control/bootstrap.js';
import { metricQueries } from '../src/observability/metrics/metric-queries.js';
import { cachedPrometheus } from '../src/observability/metrics/metrics-engine.js';
import { parseRetention } from '../src/observability/metrics/metrics-settings.js';
import { PrometheusApi } from '../src/observability/metrics/prometheus-api.js';
import { LATENCY_BUCKETS } from '../src/observability/metrics/rondo-metrics.js';
import { runningPid, startProcess, stopProcess } from '../src/platform/processes.js';
import { prometheusProcess } from '../src/platform/prometheus.js';
import { Keyring } from '../src/secrets/envelope.js';
import { openStore } from '../src/store/store.js';
import { freePort } from '../test/helpers/platform.js';

const pct = (xs: number[], p: number) =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.ceil((p / 100) * xs.length) - 1)] ?? 0;
const rssMb = (pid: number) =>
  Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;

const SCRAPE_S = 5;
const DAY_S = 86_400;

/** 24 h of one component's series every 5 s, as `/metrics` would have exposed them, in OpenMetrics text. */
async function writeBackfill(path: string, owner: string, endS: number): Promise<number> {
  const out = createWriteStream(path);
  let lines = 0;
  const write = async (s: string) => {
    lines++;
    if (!out.write(s)) await once(out, 'drain');
  };
  const steps = DAY_S / SCRAPE_S;
  const startS = endS - DAY_S;
  // A day's traffic: 2–8 requests/s, 2 % answered 500; latencies mostly 20–80 ms.
  const rps = (i: number) => 5 + 3 * Math.sin((2 * Math.PI * i) / steps);
  const family = async (name: string, type: string, series: [string, (i: number) => number][]) => {
    await write(`# TYPE ${name} ${type}\n`);
    for (const [labels, value] of series)
      for (let i = 0; i < steps; i++)
        await write(`${name}{${labels}} ${value(i)} ${startS + i * SCRAPE_S}\n`);
  };
  const total: number[] = [0];
  for (let i = 1; i < steps; i++) total.push((total[i - 1] ?? 0) + rps(i) * SCRAPE_S);
  const at = (i: number) => Math.round(total[i] ?? 0);
  await family('rondo_gateway_requests_total', 'unknown', [
    [`${owner},status_class="2xx",outcome="BACKEND_RESPONSE"`, (i) => Math.round(at(i) * 0.98)],
    [`${owner},status_class="5xx",outcome="BACKEND_RESPONSE"`, (i) => at(i) - Math.round(at(i) * 0.98)],
  ]);
  // Share of requests at or under each bound: a log-normal-ish curve around 40 ms.
  const share = (le: number) => Math.min(1, 1 / (1 + Math.exp(-(Math.log(le / 0.04) * 2.5))));
  await family('rondo_gateway_request_duration_seconds_bucket', 'unknown', [
    ...LATENCY_BUCKETS.map(
      (le) =>
        [`${owner},le="${le}"`, (i: number) => Math.round(at(i) * share(le))] as [
          string,
          (i: number) => number,
        ],
    ),
    [`${owner},le="+Inf"`, at],
  ]);
  await family('rondo_gateway_request_duration_seconds_count', 'unknown', [[owner, at]]);
  await family('rondo_gateway_request_duration_seconds_sum', 'unknown', [[owner, (i) => at(i) * 0.045]]);
  const replicas = ['0', '1'].map((r) => `${owner},deployment_id="d1",replica="${r}"`);
  await family(
    'rondo_replica_cpu_seconds_total',
    'unknown',
    replicas.map((r) => [r, (i) => i * SCRAPE_S * 0.05]),
  );
  await family(
    'rondo_replica_memory_bytes',
    'unknown',
    replicas.map((r) => [r, (i) => 80e6 + 10e6 * Math.sin(i / 500)]),
  );
  await family(
    'rondo_replica_restarts_total',
    'unknown',
    replicas.map((r) => [r, () => 0]),
  );
  await family('rondo_replica_oom_kills_total', 'unknown', [[owner, () => 0]]);
  await write('# EOF\n');
  out.end();
  await once(out, 'finish');
  return lines;
}

export async function benchMetrics(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'rondo-bench-metrics-'));
  const store = await openStore({ driver: 'pglite', dataDir: 'memory://' });
  const listen = `127.0.0.1:${await freePort()}`;
  const settings = {
    listen,
    retention: '15d',
    retentionSeconds: parseRetention('15d'),
    scrapeIntervalSeconds: SCRAPE_S,
  };
  const first = await bootstrap(store, { orgName: 'default' });
  const token = first!.token;
  const api = await createApi(
    { store, keyring: new Keyring(randomBytes(32)) },
    pino({ level: 'warn' }),
    undefined,
    undefined,
    undefined,
    undefined,
    {
      metrics: { store, prometheus: cachedPrometheus(settings), settings },
    },
  );
  const url = await api.listen({ host: '127.0.0.1', port: 0 });
  const call = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${url}/api/v1${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
    if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
    return res.json() as Promise<Record<string, unknown>>;
  };
  try {
    await call('POST', '/orgs/default/projects', { name: 'shop' });
    await call('POST', '/orgs/default/projects/shop/components', {
      name: 'web',
      type: 'service',
      source: { image: 'example/web:1' },
      endpoints: [{ port: 8080 }],
    });
    const ids = await store.db
      .selectFrom('components as c')
      .innerJoin('environments as e', 'e.org_id', 'c.org_id')
      .select(['c.id as component', 'c.org_id as org', 'c.project_id as project', 'e.id as environment'])
      .where('c.name', '=', 'web')
      .where('e.name', '=', 'development')
      .executeTakeFirstOrThrow();
    const owner = `org_id="${ids.org}",project_id="${ids.project}",component_id="${ids.component}",environment_id="${ids.environment}"`;
    // Up to two hours ago: the newest samples stay out of the head block, as after a restart.
    const endS = Math.floor(Date.now() / 1000) - 120;
    const file = join(dir, 'backfill.om');
    let t0 = performance.now();
    const lines = await writeBackfill(file, owner, endS);
    const written = performance.now() - t0;
    const data = join(dir, 'metrics', 'data');
    t0 = performance.now();
    execFileSync('promtool', ['tsdb', 'create-blocks-from', 'openmetrics', file, data], { stdio: 'ignore' });
    const imported = performance.now() - t0;
    rmSync(file);
    console.log(
      `backfill: ${lines.toLocaleString()} samples (24 h every ${SCRAPE_S} s, ${LATENCY_BUCKETS.length + 1} latency buckets, 2 replicas) written in ${(written / 1000).toFixed(1)} s, promtool tsdb create-blocks-from openmetrics ${(imported / 1000).toFixed(1)} s`,
    );
    await startProcess(
      dir,
      prometheusProcess(dir, settings, { controlPlane: new URL(url).host, gatewayMetrics: '127.0.0.1:1' }),
    );

    const q = '/orgs/default/projects/shop/components/web/metrics?environment=development&from=24h&step=60';
    const check = await call('GET', q);
    const series = check.series as { name: string; points: unknown[] }[];
    console.log(
      `answer: ${series.length} series, ${series.map((s) => `${s.name} ${s.points.length}`).join(', ')} points`,
    );
    // A range seen for the first time: 24 h ending 1, 2, … 20 hours ago, each new to the cache.
    const cold: number[] = [];
    for (let h = 1; h <= 20; h++) {
      const to = endS - h * 3600;
      const t = performance.now();
      await call('GET', `${q.replace('from=24h', `from=${to - DAY_S}`)}&to=${to}`);
      cold.push(performance.now() - t);
    }
    console.log(
      `first view of a 24 h range (20 ranges, none cached): p50 ${pct(cold, 50).toFixed(1)} ms, max ${Math.max(...cold).toFixed(1)} ms`,
    );
    for (let i = 0; i < 5; i++) await call('GET', q);
    const floor: number[] = [];
    const query: number[] = [];
    // Interleaved, so both see the same machine load.
    for (let i = 0; i < 100; i++) {
      let t = performance.now();
      const r = await fetch(`http://${listen}/-/ready`);
      await r.text();
      floor.push(performance.now() - t);
      t = performance.now();
      await call('GET', q);
      query.push(performance.now() - t);
    }
    console.log(
      `metrics query, 24 h at 1-minute steps (6 PromQL queries), viewed again as a chart refreshes: p50 ${pct(query, 50).toFixed(1)} ms, p99 ${pct(query, 99).toFixed(1)} ms (target < 200 ms)`,
    );
    console.log(
      `floor, Prometheus /-/ready round trip: p50 ${pct(floor, 50).toFixed(2)} ms, p99 ${pct(floor, 99).toFixed(2)} ms; query p99 / floor p99 ${(pct(query, 99) / pct(floor, 99)).toFixed(0)}×`,
    );
    // Where the time goes: each query straight to Prometheus, and all six at once as the API sends them.
    const prometheus = new PrometheusApi(listen);
    const scope = { componentId: ids.component, environmentId: ids.environment };
    const queries = metricQueries('service', scope, 60);
    const end = Math.floor(Date.now() / 1000);
    const each: string[] = [];
    for (const mq of queries) {
      const xs: number[] = [];
      for (let i = 0; i < 5; i++) {
        const t = performance.now();
        await prometheus.queryRange(mq.promql, end - DAY_S, end, 60);
        xs.push(performance.now() - t);
      }
      each.push(
        `${mq.shape === 'single' || mq.shape === 'by' ? mq.name : mq.shape} ${pct(xs, 50).toFixed(0)}`,
      );
    }
    const together: number[] = [];
    for (let i = 0; i < 10; i++) {
      const t = performance.now();
      await Promise.all(queries.map((mq) => prometheus.queryRange(mq.promql, end - DAY_S, end, 60)));
      together.push(performance.now() - t);
    }
    // The same six with each range cut in parts evaluated side by side (Prometheus runs one query
    // on one core; the bucket query is the long pole).
    const split: Record<number, number[]> = { 2: [], 4: [] };
    for (let i = 0; i < 10; i++)
      for (const parts of [2, 4]) {
        const t = performance.now();
        const size = Math.ceil(DAY_S / 60 / parts) * 60;
        await Promise.all(
          queries.flatMap((mq) =>
            Array.from({ length: parts }, (_, k) =>
              prometheus.queryRange(
                mq.promql,
                end - DAY_S + k * size,
                Math.min(end, end - DAY_S + (k + 1) * size - 60),
                60,
              ),
            ),
          ),
        );
        split[parts]!.push(performance.now() - t);
      }
    console.log(
      `straight to Prometheus, median ms: ${each.join(', ')}; all six at once p50 ${pct(together, 50).toFixed(0)} ms, p99 ${pct(together, 99).toFixed(0)} ms; each cut in 2 parts p50 ${pct(split[2]!, 50).toFixed(0)} / p99 ${pct(split[2]!, 99).toFixed(0)} ms, in 4 parts ${pct(split[4]!, 50).toFixed(0)} / ${pct(split[4]!, 99).toFixed(0)} ms`,
    );
    // The alternative the API does not take: one histogram_quantile query per percentile.
    const bucketQuery = queries.find((mq) => mq.shape === 'quantiles')?.promql ?? '';
    const perPercentile: number[] = [];
    const once: number[] = [];
    for (let i = 0; i < 10; i++) {
      let t = performance.now();
      await Promise.all(
        [0.5, 0.95, 0.99].map((q) =>
          prometheus.queryRange(`histogram_quantile(${q}, ${bucketQuery})`, end - DAY_S, end, 60),
        ),
      );
      perPercentile.push(performance.now() - t);
      t = performance.now();
      await prometheus.queryRange(bucketQuery, end - DAY_S, end, 60);
      once.push(performance.now() - t);
    }
    console.log(
      `p50/p95/p99: three histogram_quantile queries p50 ${pct(perPercentile, 50).toFixed(0)} ms, the buckets once (Rondo interpolates) p50 ${pct(once, 50).toFixed(0)} ms`,
    );
    // Idle: a few scrapes with nothing asked.
    await new Promise((r) => setTimeout(r, 3 * SCRAPE_S * 1000));
    const pid = runningPid(dir, 'prometheus');
    if (pid)
      console.log(
        `idle RSS: Prometheus ${rssMb(pid).toFixed(0)} MB (24 h of one component loaded), this process (API + in-memory store + bench) ${rssMb(process.pid).toFixed(0)} MB`,
      );
  } finally {
    await stopProcess(dir, 'prometheus');
    await api.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
