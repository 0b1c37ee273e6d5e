import type { KubernetesObject, V1Secret } from '@kubernetes/client-node';
import { RondoError } from '../../domain/errors.js';
import { metadata } from './pod-spec.js';

/**
 * Where a cluster pulls the platform registry's images: `address` is that registry as the
 * cluster's nodes reach it (`host[:port]`), with the pull credentials it asks for, if any.
 */
export interface ClusterRegistry {
  address: string;
  username?: string;
  password?: string;
}

/** The pull Secret in every environment's namespace, named by the pods that use it. */
export const PULL_SECRET = 'rondo-registry';

/** What the platform registry's manifests may be: a build's image, or an index of several. */
const MANIFEST_TYPES = [
  'application/vnd.docker.distribution.manifest.v2+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.oci.image.index.v1+json',
].join(', ');

const DIGEST = /^sha256:[0-9a-f]{64}$/;

/** `repo[:tag][@digest]` after the registry host: the repository, and the tag or digest. */
function splitReference(rest: string): { repository: string; tag?: string; digest?: string } {
  const at = rest.indexOf('@');
  if (at >= 0) return { repository: rest.slice(0, at).replace(/:[^:/]+$/, ''), digest: rest.slice(at + 1) };
  const colon = rest.lastIndexOf(':');
  return colon > rest.lastIndexOf('/')
    ? { repository: rest.slice(0, colon), tag: rest.slice(colon + 1) }
    : { repository: rest, tag: 'latest' };
}

/**
 * Images as a cluster pulls them. Builds push to the platform registry at the address the control
 * plane reaches it (`platformRegistry`, often loopback, which no node can reach); a cluster whose
 * record names a `registry` pulls the same repositories from that address instead, by the same
 * digest (content-addressed: the bytes are the ones the build pushed). A tag in the platform
 * registry is resolved to its digest when pinned, so a moved tag never changes what a cluster
 * runs, as on Docker. Images elsewhere are the node's to resolve.
 */
export class ClusterImages {
  constructor(
    readonly platformRegistry: string | undefined,
    readonly registry: ClusterRegistry | undefined,
    readonly fetchImpl: typeof fetch = fetch,
  ) {}

  /** The reference the cluster pulls for `image` (the platform registry's host replaced). */
  reference(image: string): string {
    const rest = this.#inPlatform(image);
    return rest === undefined || !this.registry ? image : `${this.registry.address}/${rest}`;
  }

  /** The pinned reference: a digest the cluster pulls (a platform registry tag resolved). */
  async pin(image: string): Promise<string> {
    const rest = this.#inPlatform(image);
    if (rest === undefined) return image;
    const { repository, tag, digest } = splitReference(rest);
    if (digest !== undefined) return this.reference(image);
    const resolved = await this.#digestOf(repository, tag ?? 'latest');
    return this.reference(`${this.platformRegistry}/${repository}@${resolved}`);
  }

  /** `imagePullSecrets` for pod specs, when the cluster's registry asks for credentials. */
  get pullSecrets(): { name: string }[] | undefined {
    return this.registry?.username !== undefined ? [{ name: PULL_SECRET }] : undefined;
  }

  /** The namespace's pull Secret (`kubernetes.io/dockerconfigjson`), when there are credentials. */
  pullSecret(namespace: string, labels: Record<string, string>): (KubernetesObject & V1Secret) | undefined {
    const r = this.registry;
    if (r?.username === undefined) return undefined;
    const auth = Buffer.from(`${r.username}:${r.password ?? ''}`, 'utf8').toString('base64');
    const config = { auths: { [r.address]: { username: r.username, password: r.password ?? '', auth } } };
    return {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: metadata(namespace, PULL_SECRET, labels),
      type: 'kubernetes.io/dockerconfigjson',
      data: { '.dockerconfigjson': Buffer.from(JSON.stringify(config), 'utf8').toString('base64') },
    };
  }

  /** What follows `<platform registry>/` in `image`, or undefined when it is elsewhere. */
  #inPlatform(image: string): string | undefined {
    const p = this.platformRegistry;
    return p && image.startsWith(`${p}/`) ? image.slice(p.length + 1) : undefined;
  }

  /** The manifest digest of a tag, from the platform registry (plain HTTP, as Rondo runs it). */
  async #digestOf(repository: string, tag: string): Promise<string> {
    const url = `http://${this.platformRegistry}/v2/${repository}/manifests/${encodeURIComponent(tag)}`;
    const failed = (why: string) =>
      new RondoError(
        'RONDO_ERR_UNAVAILABLE',
        `cannot resolve ${this.platformRegistry}/${repository}:${tag} to a digest: ${why}`,
      );
    const res = await this.fetchImpl(url, {
      method: 'HEAD',
      headers: { accept: MANIFEST_TYPES },
      signal: AbortSignal.timeout(10_000),
    }).catch((err: unknown) => {
      throw failed(`the platform registry does not answer (${err instanceof Error ? err.message : err})`);
    });
    if (res.status === 404) throw failed('no such tag in the platform registry');
    if (!res.ok) throw failed(`the platform registry answered ${res.status}`);
    const digest = res.headers.get('docker-content-digest') ?? '';
    if (!DIGEST.test(digest)) throw failed('the platform registry gave no sha256 digest');
    return digest;
  }
}
