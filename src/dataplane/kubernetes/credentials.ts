import { RondoError } from '../../domain/errors.js';
import { dataPlaneAad, dataPlaneRegistryAad } from '../../secrets/aad.js';
import type { Envelope, Keyring } from '../../secrets/envelope.js';
import type { ClusterRegistry } from './images.js';

/**
 * How a Kubernetes data plane's record keeps its credentials (`data_planes.config`): the kubeconfig
 * text only as an envelope (a data key per data plane, wrapped by the master key, AAD
 * `dataplane:<id>`), beside the context and the server in the clear. The API shows the last two.
 * `registry`: where the nodes pull the platform registry's images, in the clear, and the pull
 * credentials as an envelope of their own (AAD `dataplane:<id>:registry`).
 */
export interface StoredKubernetesConfig {
  kubeconfig: Envelope;
  context: string;
  server: string;
  registry?: StoredRegistry;
}

export interface StoredRegistry {
  address: string;
  /** `{ username, password }` as JSON. */
  credentials?: Envelope;
}

/** Encrypts a (validated) kubeconfig, and the registry's pull credentials, for the record of data plane `dataPlaneId`. */
export function sealKubeconfig(
  keyring: Keyring,
  dataPlaneId: string,
  kubeconfig: string,
  target: { context: string; server: string },
  registry?: ClusterRegistry,
): StoredKubernetesConfig {
  return {
    kubeconfig: keyring.encrypt(Buffer.from(kubeconfig, 'utf8'), dataPlaneAad(dataPlaneId)),
    context: target.context,
    server: target.server,
    ...(registry ? { registry: sealRegistry(keyring, dataPlaneId, registry) } : {}),
  };
}

function sealRegistry(keyring: Keyring, dataPlaneId: string, r: ClusterRegistry): StoredRegistry {
  if (r.username === undefined) return { address: r.address };
  const credentials = JSON.stringify({ username: r.username, password: r.password ?? '' });
  return {
    address: r.address,
    credentials: keyring.encrypt(Buffer.from(credentials, 'utf8'), dataPlaneRegistryAad(dataPlaneId)),
  };
}

/**
 * The kubeconfig text and context of a Kubernetes data plane's record, and its registry with the
 * pull credentials, decrypted: what the composition root hands the Kubernetes driver's factory
 * (`record.config`). Kept in memory only.
 */
export function openKubeconfig(
  keyring: Keyring,
  record: { id: string; config: Record<string, unknown> },
): { kubeconfig: string; context?: string; registry?: ClusterRegistry } {
  const stored = record.config as Partial<StoredKubernetesConfig>;
  const envelope = stored.kubeconfig;
  if (!envelope || typeof envelope !== 'object' || typeof envelope.ciphertext !== 'string')
    throw new RondoError(
      'RONDO_ERR_UNAVAILABLE',
      `data plane ${record.id} has no stored kubeconfig; delete it and register the cluster again`,
    );
  const kubeconfig = keyring.decrypt(envelope, dataPlaneAad(record.id)).toString('utf8');
  const registry = openRegistry(keyring, record.id, stored.registry);
  return {
    kubeconfig,
    ...(typeof stored.context === 'string' ? { context: stored.context } : {}),
    ...(registry ? { registry } : {}),
  };
}

function openRegistry(
  keyring: Keyring,
  dataPlaneId: string,
  stored: StoredRegistry | undefined,
): ClusterRegistry | undefined {
  if (!stored || typeof stored.address !== 'string') return undefined;
  if (!stored.credentials) return { address: stored.address };
  const { username, password } = JSON.parse(
    keyring.decrypt(stored.credentials, dataPlaneRegistryAad(dataPlaneId)).toString('utf8'),
  ) as { username: string; password: string };
  return { address: stored.address, username, password };
}
