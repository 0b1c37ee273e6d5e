import { randomBytes } from 'node:crypto';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { DockerDataPlane } from '../../src/dataplane/docker/docker-data-plane.js';
import { dockerDriver } from '../../src/dataplane/docker/docker-driver.js';
import type { DataPlaneDriver } from '../../src/dataplane/driver.js';
import { buildContractImage } from '../dataplane/busybox-contract-image.js';
import { driverContract } from '../dataplane/driver-contract.js';
import { cleanupInstance, docker } from '../helpers/images.js';

/** The Docker driver against the real engine: the contract every data-plane driver passes. */
driverContract('docker', async () => {
  const instance = `t${randomBytes(4).toString('hex')}`;
  const engine = new DockerDataPlane();
  // No host gateway: the gateway tests route through Caddy; here traffic publishes names only.
  const driver: DataPlaneDriver = dockerDriver(engine, {
    dataPlaneId: 'dp_contract',
    instance,
    gateway: undefined,
    logger: pino({ level: 'silent' }),
  });
  const image = await buildContractImage();
  return {
    driver,
    image,
    instance,
    // Whatever the driver's own removals left (containers, networks, mounted files), by label.
    cleanup: () => cleanupInstance(instance),
    deadlineMs: 30_000,
  };
});

describe('Docker driver: a replica created but never started', () => {
  it('is started by the next probe (its control plane died between create and start)', async () => {
    const instance = `t${randomBytes(4).toString('hex')}`;
    const driver = dockerDriver(new DockerDataPlane(), {
      dataPlaneId: 'dp_created',
      instance,
      gateway: undefined,
      logger: pino({ level: 'silent' }),
    });
    const image = await buildContractImage();
    try {
      const c = await docker.createContainer({
        Image: image.ref,
        Env: Object.entries(image.serve(8080)).map(([k, v]) => `${k}=${v}`),
        Labels: { 'rondo.instance': instance, 'rondo.managed': 'true' },
      });
      const first = await driver.revisions.probe(c.id, { kind: 'tcp', port: 8080 });
      expect(first.failure).toMatch(/created but never started/);
      expect((await c.inspect()).State.Running).toBe(true);
    } finally {
      await cleanupInstance(instance);
    }
  });
});
