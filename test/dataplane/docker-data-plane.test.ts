import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DockerDataPlane } from '../../src/dataplane/docker/docker-data-plane.js';
import { buildWebImage, cleanupInstance, docker, execIn } from '../helpers/images.js';

/** The Docker implementation of DataPlane against the real engine. */
describe('DockerDataPlane', () => {
  const dp = new DockerDataPlane();
  const instance = `t${randomBytes(4).toString('hex')}`;
  const labels = { 'rondo.instance': instance, 'rondo.managed': 'true' };
  const net = `rondo.${instance}.contract`;
  beforeAll(() => buildWebImage('rondo-test-web:v1', { body: 'hello v1' }));
  afterAll(() => cleanupInstance(instance));

  it('answers ping, and says what to fix when the socket is wrong', async () => {
    await expect(dp.ping()).resolves.toBeUndefined();
    await expect(new DockerDataPlane({ socketPath: '/run/none.sock' }).ping()).rejects.toThrow(
      /\/run\/none.sock is unreachable.*start it/,
    );
  });

  it('creates a network once and refuses to adopt a foreign one', async () => {
    const a = await dp.ensureNetwork(net, labels);
    const b = await dp.ensureNetwork(net, labels);
    expect(b.id).toBe(a.id);
    expect(a.subnet).toMatch(/^\d+\.\d+\.\d+\.\d+\/\d+$/);
    expect((await dp.listNetworks({ 'rondo.instance': instance })).map((n) => n.name)).toEqual([net]);
    await expect(dp.ensureNetwork(net, { ...labels, 'rondo.instance': 'someone-else' })).rejects.toThrow(
      /not Rondo's/,
    );
  });

  it('runs a workload with env, files, limits, ulimits and a command, and finds it by label', async () => {
    const w = await dp.runWorkload({
      name: `rondo-${instance}-contract-0`,
      image: 'rondo-test-web:v1',
      labels: { ...labels, 'rondo.component': 'probe' },
      network: net,
      names: ['probe'],
      env: { GREETING: 'hi there' },
      args: [
        '/bin/busybox --install -s /bin; echo started $GREETING; cat /etc/app/conf.txt; exec httpd -f -p 8080 -h /www',
      ],
      ports: [8080],
      files: [{ path: '/etc/app/conf.txt', content: 'level=debug\n' }],
      resources: { cpuMillicores: 500, memoryMiB: 64 },
      restartPolicy: 'on-failure',
      ulimits: [{ name: 'nofile', soft: 1024, hard: 2048 }],
      extraHosts: ['rondo-gateway:10.1.2.3'],
    });
    // A replica starts unready; its container name says so until `markReady`.
    expect(w).toMatchObject({
      state: 'running',
      ready: false,
      restartCount: 0,
      name: `rondo-${instance}-contract-0`,
    });
    expect((await docker.getContainer(w.id).inspect()).Name).toBe(`/rondo-${instance}-contract-0.starting`);
    expect(w.ip).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
    const inspect = await docker.getContainer(w.id).inspect();
    expect(inspect.HostConfig.NanoCpus).toBe(500_000_000);
    expect(inspect.HostConfig.Memory).toBe(64 * 1024 * 1024);
    expect(inspect.HostConfig.MemorySwap).toBe(64 * 1024 * 1024);
    expect(
      // The replica's own process (PID 1): an exec'd shell does not always get the container's limits.
      (
        await execIn(w.id, [
          '/bin/busybox',
          'sh',
          '-c',
          'grep "open files" /proc/1/limits; grep rondo-gateway /etc/hosts',
        ])
      ).output,
    ).toMatch(/open files\s+1024\s+2048\s+files\s+10\.1\.2\.3\s+rondo-gateway/);
    const found = await dp.listWorkloads({ 'rondo.instance': instance, 'rondo.component': 'probe' });
    expect(found.map((f) => f.id)).toEqual([w.id]);
    expect(await dp.listWorkloads({ 'rondo.instance': instance, 'rondo.component': 'other' })).toEqual([]);

    await sleep(300);
    const logs = await dp.logs(w.id, { tail: 10 });
    expect(logs).toContain('started hi there');
    expect(logs).toContain('level=debug');
    expect(await dp.logs(w.id, { since: new Date(Date.now() + 60_000) })).toBe('');
    const stats = await dp.stats(w.id);
    expect(stats.memoryBytes).toBeGreaterThan(0);
    expect(stats.memoryBytes).toBeLessThanOrEqual(64 * 1024 * 1024);
    expect(stats.restarts).toBe(0);
  });

  it('marks a replica ready (without a name server: Docker aliases, by a reconnect), and removes idempotently', async () => {
    const [w] = await dp.listWorkloads({ 'rondo.instance': instance, 'rondo.component': 'probe' });
    const ready = await dp.markReady(w!.id, net, ['probe', 'probe.proj']);
    expect(ready).toMatchObject({ ready: true, name: `rondo-${instance}-contract-0` });
    const inspect = await docker.getContainer(w!.id).inspect();
    expect(inspect.Name).toBe(`/rondo-${instance}-contract-0`);
    expect(inspect.NetworkSettings.Networks[net]?.Aliases).toEqual(
      expect.arrayContaining(['probe', 'probe.proj']),
    );
    expect((await dp.markReady(w!.id, net, ['probe'])).ready).toBe(true);
    await dp.removeWorkload(w!.id, 1);
    await dp.removeWorkload(w!.id, 1);
    expect(await dp.inspectWorkload(w!.id)).toBeUndefined();
    await dp.removeNetwork(net);
    await dp.removeNetwork(net);
    expect(await dp.listNetworks({ 'rondo.instance': instance })).toEqual([]);
  });

  it('pulls what is missing and names the image when it cannot', async () => {
    expect(await dp.ensureImage('rondo-test-web:v1')).toMatch(/^sha256:/);
    await expect(dp.ensureImage('rondo-test-web:does-not-exist')).rejects.toThrow(
      /cannot pull image rondo-test-web:does-not-exist/,
    );
  });
});
