import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DockerDataPlane } from '../../src/dataplane/docker/docker-data-plane.js';
import type { WorkloadSpec } from '../../src/dataplane/docker/engine.js';
import { NameServer } from '../../src/dataplane/docker/name-server.js';
import { runProbe } from '../../src/dataplane/probes.js';
import { buildWebImage, cleanupInstance, docker } from '../helpers/images.js';

/**
 * Replicas in warm sandboxes (src/dataplane/docker/replica-sandboxes.ts), against the real
 * engine: after a network's first replica a spare sandbox is made, the next replica runs in its
 * namespace and answers on its address, and the sandbox goes with the replica.
 */
describe('DockerDataPlane replicas in warm sandboxes', () => {
  // Port 53 is the platform's; the sandbox path needs only that the name server serves the network.
  const names = new NameServer({ port: 15353 });
  const dp = new DockerDataPlane({ names });
  const instance = `t${randomBytes(4).toString('hex')}`;
  const labels = { 'rondo.instance': instance, 'rondo.managed': 'true' };
  const network = `rondo.${instance}.sandboxes`;
  beforeAll(() => buildWebImage('rondo-test-web:v1', { body: 'hello v1' }));
  afterAll(async () => {
    names.close();
    await cleanupInstance(instance);
  });

  const replica = (name: string): WorkloadSpec => ({
    name: `rondo-${instance}-${name}`,
    image: 'rondo-test-web:v1',
    labels: { ...labels, 'rondo.component': 'web' },
    network,
    names: ['web'],
    env: {},
    ports: [8080],
    restartPolicy: 'on-failure',
  });
  const inspect = (name: string) => docker.getContainer(name).inspect();
  async function until<T>(read: () => Promise<T | undefined>, what: string): Promise<T> {
    for (let i = 0; i < 200; i++) {
      const v = await read().catch(() => undefined);
      if (v !== undefined) return v;
      await sleep(50);
    }
    throw new Error(`timed out waiting for ${what}`);
  }
  // Started, not only created: the spare has its address once it runs.
  const spare = () =>
    until(async () => {
      const s = await inspect(`${network}.spare`);
      return s.State.Running ? s.Id : undefined;
    }, 'the spare sandbox');

  it('runs the next replica in the spare: the sandbox’s address, answering, gone with the replica', async () => {
    await dp.ensureNetwork(network, labels);
    expect(names.serves(network)).toBe(true);
    const first = await dp.runWorkload(replica('a'));
    // The network's first replica joins it itself: there was no spare yet.
    expect(first.labels['rondo.netns']).toBeUndefined();
    const sandboxId = await spare();
    const sandbox = await inspect(sandboxId);
    expect(sandbox.Config.Labels?.['rondo.sandbox']).toBe(network);
    expect(sandbox.HostConfig.Dns?.[0]).toBe(
      (await docker.getNetwork(network).inspect()).IPAM?.Config?.[0]?.Gateway,
    );

    const second = await dp.runWorkload(replica('b'));
    expect(second.labels['rondo.netns']).toBe(sandboxId);
    expect(second.ip).toBe(Object.values(sandbox.NetworkSettings.Networks)[0]?.IPAddress);
    expect((await inspect(second.id)).HostConfig.NetworkMode).toBe(`container:${sandboxId}`);
    // Claimed: renamed, so no other replica (or control plane) can take it.
    expect((await inspect(sandboxId)).Name).not.toBe(`/${network}.spare`);
    await until(
      async () =>
        (await runProbe(second.ip!, { kind: 'tcp', port: 8080 })) === undefined ? true : undefined,
      'the replica to answer on the sandbox’s address',
    );
    // The listing (one engine call) gives the address too, as the gateway reads it.
    const listed = await dp.listWorkloads({ 'rondo.instance': instance, 'rondo.component': 'web' });
    expect(listed.find((w) => w.id === second.id)?.ip).toBe(second.ip);

    // The next spare is made in the background, and the replica's own sandbox goes with it.
    const next = await spare();
    expect(next).not.toBe(sandboxId);
    await dp.removeWorkload(second.id, 0);
    await expect(inspect(sandboxId)).rejects.toMatchObject({ statusCode: 404 });
    await dp.removeWorkload(first.id, 0);
  });

  it('removes a replica whose sandbox was removed behind its back when it is restarted, so another is started', async () => {
    const sandboxId = await spare();
    const replicaD = await dp.runWorkload(replica('d'));
    expect(replicaD.labels['rondo.netns']).toBe(sandboxId);
    await docker.getContainer(sandboxId).remove({ force: true });
    await dp.restartWorkload(replicaD.id);
    await expect(inspect(replicaD.id)).rejects.toMatchObject({ statusCode: 404 });
  });

  it('makes no spare once the name server no longer serves the network (a stopped control plane)', async () => {
    const other = `rondo.${instance}.stopped`;
    await dp.ensureNetwork(other, labels);
    await dp.runWorkload({ ...replica('c'), network: other });
    names.close();
    // A spare being made when the name server stopped is removed as soon as it has started (under
    // load that can take seconds), and none is made after it.
    const gone = () =>
      inspect(`${other}.spare`).then(
        () => undefined,
        (err: { statusCode?: number }) => (err.statusCode === 404 ? true : undefined),
      );
    await until(gone, 'no spare on the stopped network');
    await sleep(1500);
    await expect(inspect(`${other}.spare`)).rejects.toMatchObject({ statusCode: 404 });
  });
});
