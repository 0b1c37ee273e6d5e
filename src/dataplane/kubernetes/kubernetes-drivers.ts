import { RondoError } from '../../domain/errors.js';
import type { Keyring } from '../../secrets/envelope.js';
import type { DataPlaneFactory } from '../registry.js';
import { openKubeconfig } from './credentials.js';

type DriverModule = typeof import('./kubernetes-driver.js');
type GatewayOptions = import('./gateway.js').ClusterGatewayOptions;

/**
 * The `kubernetes` driver's factory. The Kubernetes client takes over a second to load, so a
 * control plane with only Docker data planes never loads it: `preload()` starts loading when a
 * cluster is registered, and a cluster asked for before the load has finished is unavailable for
 * that moment (every caller retries). The kubeconfig is decrypted in memory for the driver only.
 * `platformRegistry`: where builds push, whose images clusters pull from their record's address.
 * `gateway`: Rondo's gateway inside each cluster, from the site's `gateway` base image.
 */
export function kubernetesDrivers(
  keyring: Keyring,
  options: {
    platformRegistry?: string;
    /** Rondo's gateway in each cluster, as the site has it now (its image); none: Services only. */
    gateway?: () => GatewayOptions | undefined;
  } = {},
): { factory: DataPlaneFactory; preload(): Promise<void> } {
  let driver: DriverModule | undefined;
  let loading: Promise<void> | undefined;
  const preload = () => {
    loading ??= import('./kubernetes-driver.js').then(
      (m) => {
        driver = m;
      },
      (err: unknown) => {
        loading = undefined;
        throw err;
      },
    );
    return loading;
  };
  const factory: DataPlaneFactory = (record) => {
    if (!driver) {
      preload().catch(() => undefined);
      throw new RondoError(
        'RONDO_ERR_UNAVAILABLE',
        `data plane ${record.id}: the Kubernetes driver is still loading; try again in a few seconds`,
      );
    }
    const gateway = options.gateway?.();
    return driver.kubernetesDriver(
      { ...record, config: openKubeconfig(keyring, record) },
      {
        ...(options.platformRegistry ? { platformRegistry: options.platformRegistry } : {}),
        ...(gateway ? { gateway } : {}),
      },
    );
  };
  factory.preload = preload;
  return { factory, preload };
}
