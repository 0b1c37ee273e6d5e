import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readSupervisorRecord } from '../../src/platform/supervisor.js';
import { freePort, internalPortBase } from '../helpers/platform.js';
import { cleanEnv, cli, ensureBuilt } from '../helpers/processes.js';

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
};

/** Parts that die: `rondo up`'s supervisor restarts each, and `rondo doctor` says what happened. */
describe('rondo up restarts the parts that die', () => {
  const dir = mkdtempSync(join(tmpdir(), 'rondo-supervisor-'));
  const data = join(dir, 'data');
  let env: NodeJS.ProcessEnv;
  const pidOf = (name: string) => {
    try {
      return Number(readFileSync(join(data, 'run', `${name}.pid`), 'utf8'));
    } catch {
      return 0;
    }
  };
  const answers = (url: string) =>
    fetch(url, { signal: AbortSignal.timeout(1000) }).then(
      (r) => r.status < 500,
      () => false,
    );
  /** Kills `name` with SIGKILL and waits until another process of it answers at `url`. */
  const killAndAwait = async (name: string, url: string) => {
    const before = pidOf(name);
    expect(alive(before)).toBe(true);
    process.kill(before, 'SIGKILL');
    const deadline = Date.now() + 60_000;
    // Back: another process answers, and the supervisor has seen it start (its record says so).
    const back = async () => {
      const now = pidOf(name);
      const seen = readSupervisorRecord(data)?.parts[name];
      return now !== before && alive(now) && seen?.pid === now && seen.state === 'running' && answers(url);
    };
    while (!(await back())) {
      if (Date.now() > deadline) throw new Error(`${name} did not come back`);
      await sleep(100);
    }
    return pidOf(name);
  };

  beforeAll(async () => {
    ensureBuilt();
    env = cleanEnv({
      HOME: dir,
      RONDO_DATA_DIR: data,
      RONDO_BUILD_WORKDIR: join(dir, 'builds'),
      RONDO_PORT: String(await freePort()),
      RONDO_GATEWAY_PORT: String(await freePort()),
      RONDO_GATEWAY_METRICS: `127.0.0.1:${await freePort()}`,
      RONDO_REGISTRY_LISTEN: `127.0.0.1:${await freePort()}`,
      RONDO_METRICS_LISTEN: `127.0.0.1:${await freePort()}`,
      RONDO_ALERTMANAGER_LISTEN: `127.0.0.1:${await freePort()}`,
      RONDO_INTERNAL_GATEWAY_PORT_BASE: String(internalPortBase()),
    });
    const up = await cli(['up'], env);
    expect(up.status).toBe(0);
  });
  afterAll(async () => {
    await cli(['down', '--data-dir', data], env);
    rmSync(dir, { recursive: true, force: true });
  });

  it('brings back the gateway, the registry and the control plane after kill -9', async () => {
    expect(alive(pidOf('supervisor'))).toBe(true);
    const gatewayMetrics = `http://${env.RONDO_GATEWAY_METRICS}/metrics`;
    await killAndAwait('gateway', gatewayMetrics);
    // The second death is of a process the supervisor started, so it knows how it ended.
    await killAndAwait('gateway', gatewayMetrics);
    await killAndAwait('registry', `http://${env.RONDO_REGISTRY_LISTEN}/v2/`);
    await killAndAwait('rondo', `http://127.0.0.1:${env.RONDO_PORT}/api/v1/healthz`);
    await killAndAwait('prometheus', `http://${env.RONDO_METRICS_LISTEN}/-/ready`);
  });

  it('doctor says which parts died, how and when, and that they are back', async () => {
    const res = await cli(['doctor'], env);
    expect(res.stdout).toMatch(/^ok\s+supervisor\s+pid \d+/m);
    expect(res.stdout).toMatch(
      /^ok\s+gateway restarts\s+restarted 2 times; last killed by SIGKILL at \S+; back at \S+$/m,
    );
    expect(res.stdout).toMatch(/^ok\s+registry restarts\s+restarted 1 time; last exited at \S+; back at/m);
    expect(res.stdout).toMatch(/^ok\s+rondo restarts\s+restarted 1 time;/m);
    expect(res.stdout).toMatch(/^ok\s+gateway runtime API/m);
  });

  it('down stops the supervisor before the parts, so nothing comes back', async () => {
    const pids = ['supervisor', 'rondo', 'gateway', 'registry'].map(pidOf);
    const down = await cli(['down', '--data-dir', data], env);
    expect(down.stdout).toBe('Stopped rondo, alertmanager, prometheus, gateway, registry.\n');
    await sleep(1000);
    expect(pids.filter(alive)).toEqual([]);
    expect(await answers(`http://${env.RONDO_GATEWAY_METRICS}/metrics`)).toBe(false);
  });
});
