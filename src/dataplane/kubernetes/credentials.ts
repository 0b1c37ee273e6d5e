import { RondoError } from '../../domain/errors.js';
import { dataPlaneAad } from '../../secrets/aad.js';
import type { Envelope, Keyring } from '../../secrets/envelope.js';

/**
 * How a Kubernetes data plane's record keeps its credentials (`data_planes.config`): the kubeconfig
 * text only as an envelope (a data key per data plane, wrapped by the master key, AAD
 * `dataplane:<id>`), beside the context and the server in the clear. The API shows the last two.
 */
export interface StoredKubernetesConfig {
  kubeconfig: Envelope;
  context: string;
  server: string;
}

/** Encrypts a (validated) kubeconfig for the record of data plane `dataPlaneId`. */
export function sealKubeconfig(
  keyring: Keyring,
  dataPlaneId: string,
  kubeconfig: string,
  target: { context: string; server: string },
): StoredKubernetesConfig {
  return {
    kubeconfig: keyring.encrypt(Buffer.from(kubeconfig, 'utf8'), dataPlaneAad(dataPlaneId)),
    context: target.context,
    server: target.server,
  };
}

/**
 * The kubeconfig text and context of a Kubernetes data plane's record, decrypted: what the
 * composition root hands the Kubernetes driver's factory (`record.config`). Kept in memory only.
 */
export function openKubeconfig(
  keyring: Keyring,
  record: { id: string; config: Record<string, unknown> },
): { kubeconfig: string; context?: string } {
  const stored = record.config as Partial<StoredKubernetesConfig>;
  const envelope = stored.kubeconfig;
  if (!envelope || typeof envelope !== 'object' || typeof envelope.ciphertext !== 'string')
    throw new RondoError(
      'RONDO_ERR_UNAVAILABLE',
      `data plane ${record.id} has no stored kubeconfig; delete it and register the cluster again`,
    );
  const kubeconfig = keyring.decrypt(envelope, dataPlaneAad(record.id)).toString('utf8');
  return typeof stored.context === 'string' ? { kubeconfig, context: stored.context } : { kubeconfig };
}
