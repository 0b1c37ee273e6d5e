import { describe, expect, it } from 'vitest';
import { sealKubeconfig } from '../../src/dataplane/kubernetes/credentials.js';
import { kubernetesDrivers } from '../../src/dataplane/kubernetes/kubernetes-drivers.js';
import { DataPlaneRegistry } from '../../src/dataplane/registry.js';
import { RondoError } from '../../src/domain/errors.js';
import { Keyring } from '../../src/secrets/envelope.js';
import { kubeconfigText, plantedKubeToken } from '../helpers/secrets.js';

describe('the kubernetes driver factory', () => {
  const keyring = new Keyring(Buffer.alloc(32, 3));
  const record = (id: string) => ({
    id,
    type: 'kubernetes',
    config: sealKubeconfig(keyring, id, kubeconfigText(plantedKubeToken()), {
      context: 'other',
      server: 'https://10.0.0.1:6443',
    }) as unknown as Record<string, unknown>,
  });

  it('is unavailable until the client has loaded, then makes a driver from the sealed kubeconfig', async () => {
    const { factory, preload } = kubernetesDrivers(keyring);
    const registry = new DataPlaneRegistry({ kubernetes: factory });
    let thrown: unknown;
    try {
      registry.for(record('dp_k1'));
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(RondoError);
    expect((thrown as RondoError).code).toBe('RONDO_ERR_UNAVAILABLE');
    // The loops over every data plane skip it meanwhile instead of failing.
    expect(registry.tryFor(record('dp_k1'))).toBeUndefined();
    await preload();
    const driver = registry.for(record('dp_k1'));
    expect(driver.capabilities.restartsOnLiveness).toBe(true);
    expect(registry.tryFor(record('dp_k1'))).toBe(driver);
  });

  it('refuses a record whose kubeconfig was sealed for another data plane', async () => {
    const { factory, preload } = kubernetesDrivers(keyring);
    await preload();
    expect(() => factory({ ...record('dp_k2'), id: 'dp_other' })).toThrow();
  });
});
