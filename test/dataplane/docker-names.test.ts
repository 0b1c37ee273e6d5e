import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DockerDataPlane } from '../../src/dataplane/docker/docker-data-plane.js';
import type { WorkloadSpec } from '../../src/dataplane/docker/engine.js';
import { NameServer } from '../../src/dataplane/docker/name-server.js';
import { buildWebImage, cleanupInstance, docker, execIn } from '../helpers/images.js';

/**
 * Replicas' names served by Rondo (port 53 on each network's gateway) through Docker's embedded
 * DNS, against the real engine: published names resolve inside containers and switch in place,
 * other names still resolve through the host's servers, and one network cannot read another's.
 */
describe('DockerDataPlane with a name server', () => {
  const names = new NameServer();
  const dp = new DockerDataPlane({ names });
  const instance = `t${randomBytes(4).toString('hex')}`;
  const labels = { 'rondo.instance': instance, 'rondo.managed': 'true' };
  const [netA, netB] = [`rondo.${instance}.names-a`, `rondo.${instance}.names-b`];
  beforeAll(() => buildWebImage('rondo-test-web:v1', { body: 'hello v1' }));
  afterAll(async () => {
    names.close();
    await cleanupInstance(instance);
  });

  const replica = (name: string, network: string): WorkloadSpec => ({
    name: `rondo-${instance}-${name}`,
    image: 'rondo-test-web:v1',
    labels: { ...labels, 'rondo.component': name },
    network,
    names: [name, `${name}.shop`],
    env: {},
    ports: [8080],
    restartPolicy: 'on-failure',
  });
  const lookup = async (id: string, name: string, server = '') =>
    (await execIn(id, ['/bin/busybox', 'sh', '-c', `nslookup ${name} ${server} 2>&1; true`])).output;

  it('resolves published names inside containers, switches them without a reconnect, and keeps networks apart', async () => {
    const a = await dp.ensureNetwork(netA, labels);
    const b = await dp.ensureNetwork(netB, labels);
    expect(names.serves(netA)).toBe(true);
    const api = await dp.runWorkload(replica('api', netA));
    const web = await dp.runWorkload(replica('web', netA));
    const other = await dp.runWorkload(replica('other', netB));
    // Rondo's server first, then the host's.
    expect((await docker.getContainer(api.id).inspect()).HostConfig.Dns?.[0]).toBe(a.gateway);

    // Not published yet: the name does not resolve.
    expect(await lookup(web.id, 'api')).not.toContain(api.ip);
    await dp.publishNames(new Map([[netA, { api: [api.ip!], 'api.shop': [api.ip!] }]]));
    expect(await lookup(web.id, 'api')).toContain(api.ip);
    expect(await lookup(web.id, 'api.shop')).toContain(api.ip);

    // The switch is in place: same container, same address, another answer.
    const marked = await dp.markReady(api.id, netA, ['api', 'api.shop']);
    expect(marked.ip).toBe(api.ip);
    await dp.publishNames(new Map([[netA, { api: [web.ip!] }]]));
    expect(await lookup(web.id, 'api')).toContain(web.ip);
    expect(await lookup(web.id, 'api')).not.toContain(api.ip);

    // Another network neither resolves the name nor gets it by asking that network's server directly.
    expect(await lookup(other.id, 'api')).not.toContain(web.ip);
    expect(await lookup(other.id, 'api', a.gateway)).not.toContain(web.ip);
    expect(b.gateway).not.toBe(a.gateway);

    // What Rondo does not hold goes on to the host's servers (Docker's own names still answer too).
    expect(await lookup(web.id, `rondo-${instance}-api`)).toContain(api.ip);
  });

  it('stops answering on a removed network', async () => {
    await cleanupInstance(instance);
    await dp.removeNetwork(netA);
    expect(names.serves(netA)).toBe(false);
  });
});
