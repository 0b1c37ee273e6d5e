/**
 * F5 benchmarks, with the control plane as its own process on the real engine and Caddy:
 *  - schedule accuracy: a seconds-resolution schedule (the test-only setting) runs 60 times; the
 *    delay of each run is its container's start time (the engine's) minus its due time; p50/p99.
 *  - `rondo run --follow` of a task that prints one line, wall time of the CLI process, against
 *    `docker run --rm` of the same image in the same run (median of 10 each, interleaved).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { buildTaskImage, cleanupInstance, docker } from '../test/helpers/images.js';
import { platformServerEnv, startServerGateway } from '../test/helpers/platform.js';
import { CLI, cleanEnv, ensureBuilt, startServer } from '../test/helpers/processes.js';
import { apiClient } from './api-client.js';
import { median } from './data-plane.js';

const TOKEN = 'rondo_bench_tasks_admin_token_0123456789abcdef';
// A project name of this run's own, so cleanup finds exactly what this run created.
const PROJECT = `bench${Math.random().toString(36).slice(2, 8)}`;
const P = `/orgs/default/projects/${PROJECT}/components`;
const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.ceil((p / 100) * xs.length) - 1]!;

export async function benchTasks(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'rondo-bench-tasks-'));
  ensureBuilt();
  await buildTaskImage('rondo-test-task:v1');
  const env = {
    ...(await platformServerEnv(join(dir, 'data'), TOKEN)),
    RONDO_TASKS_SECONDS_SCHEDULES: 'test-only',
    RONDO_TASKS_MIN_INTERVAL_SECONDS: '1',
  };
  const gateway = await startServerGateway(env);
  const server = await startServer(env);
  const api = apiClient(server.url, TOKEN);
  const deploy = async (name: string, body: Record<string, unknown>) => {
    const d = await api('POST', `${P}/${name}/deployments`, { environment: 'development', ...body });
    while ((await api('GET', `/orgs/default/deployments/${d.id}`)).status !== 'active') await sleep(100);
  };
  try {
    await api('POST', '/orgs/default/projects', { name: PROJECT });
    await api('POST', P, { name: 'job', type: 'manual-task', source: { image: 'rondo-test-task:v1' } });
    await api('POST', P, { name: 'tick', type: 'scheduled-task', source: { image: 'rondo-test-task:v1' } });
    await deploy('job', {});

    // rondo run --follow vs docker run --rm, interleaved so both see the same machine.
    const cliEnv = cleanEnv({ HOME: dir, RONDO_SERVER: server.url, RONDO_TOKEN: TOKEN });
    const rondo: number[] = [];
    const plain: number[] = [];
    const sameNetwork: number[] = [];
    const [network] = await docker.listNetworks({ filters: { label: [`rondo.project=${PROJECT}`] } });
    for (let i = 0; i < 11; i++) {
      let t0 = performance.now();
      const r = spawnSync(
        CLI,
        ['run', 'job', '--project', PROJECT, '--env', 'development', '--follow', '--', 'hi'],
        {
          env: cliEnv,
          encoding: 'utf8',
        },
      );
      if (r.status !== 0 || r.stdout !== 'task says: hi\n')
        throw new Error(`rondo run: ${r.status} ${r.stdout} ${r.stderr}`);
      rondo.push(performance.now() - t0);
      t0 = performance.now();
      const d = spawnSync(
        '/usr/bin/docker',
        ['run', '--rm', '--label', 'rondo.test-image=bench', 'rondo-test-task:v1', 'hi'],
        {
          encoding: 'utf8',
        },
      );
      if (d.status !== 0) throw new Error(`docker run: ${d.stderr}`);
      plain.push(performance.now() - t0);
      t0 = performance.now();
      const n = spawnSync(
        '/usr/bin/docker',
        [
          'run',
          '--rm',
          '--network',
          network!.Name,
          '--label',
          'rondo.test-image=bench',
          'rondo-test-task:v1',
          'hi',
        ],
        { encoding: 'utf8' },
      );
      if (n.status !== 0) throw new Error(`docker run --network: ${n.stderr}`);
      sameNetwork.push(performance.now() - t0);
    }
    const [r, d] = [median(rondo.slice(1)), median(plain.slice(1))];
    console.log(
      `rondo run --follow (one line)       median ${r.toFixed(0)} ms over 10 (min ${Math.min(...rondo.slice(1)).toFixed(0)}, max ${Math.max(...rondo.slice(1)).toFixed(0)})`,
    );
    console.log(`docker run --rm, same image         median ${d.toFixed(0)} ms over 10`);
    console.log(`ratio                               ${(r / d).toFixed(2)}× (target ≤ 1.5×)`);
    const sn = median(sameNetwork.slice(1));
    console.log(
      `docker run --rm on the task's network median ${sn.toFixed(0)} ms over 10 (ratio ${(r / sn).toFixed(2)}×)`,
    );

    // Schedule accuracy over 60 runs of an every-second schedule.
    await deploy('tick', { cron: '* * * * * *', concurrencyPolicy: 'allow' });
    const delays: number[] = [];
    const seen = new Set<string>();
    const deadline = Date.now() + 150_000;
    while (delays.length < 60 && Date.now() < deadline) {
      const list = await api('GET', `${P}/tick/executions?environment=development&limit=500`);
      for (const x of list.items) {
        if (seen.has(x.id) || x.trigger !== 'schedule' || !x.startedAt || !x.dueAt) continue;
        seen.add(x.id);
        delays.push(Date.parse(x.startedAt) - Date.parse(x.dueAt));
      }
      await sleep(1000);
    }
    await api('PUT', `${P}/tick/schedules/development`, { suspended: true });
    const sample = delays.slice(0, 60);
    console.log(
      `scheduled run start after due time  p50 ${pct(sample, 50)} ms, p99 ${pct(sample, 99)} ms, max ${Math.max(...sample)} ms over ${sample.length} runs (target p99 < 1000 ms)`,
    );
  } finally {
    await server.stop('SIGTERM');
    const networks = await docker.listNetworks({ filters: { label: [`rondo.project=${PROJECT}`] } });
    for (const owner of new Set(networks.map((n) => n.Labels?.['rondo.instance']).filter(Boolean)))
      await cleanupInstance(owner!);
    await gateway.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
