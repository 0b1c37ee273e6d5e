import { randomBytes } from 'node:crypto';
import { pino } from 'pino';
import { DockerDataPlane } from '../../src/dataplane/docker/docker-data-plane.js';
import { dockerDriver } from '../../src/dataplane/docker/docker-driver.js';
import type { DataPlaneDriver } from '../../src/dataplane/driver.js';
import { buildContractImage } from '../dataplane/busybox-contract-image.js';
import { driverContract } from '../dataplane/driver-contract.js';
import { cleanupInstance } from '../helpers/images.js';

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
