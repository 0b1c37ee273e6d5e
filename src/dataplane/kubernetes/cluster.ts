import { createHash } from 'node:crypto';
import https from 'node:https';
import {
  ApiException,
  AppsV1Api,
  BatchV1Api,
  CoreV1Api,
  type KubernetesObject,
  KubernetesObjectApi,
  Log,
  NetworkingV1Api,
  PatchStrategy,
  VersionApi,
} from '@kubernetes/client-node';
import { RondoError } from '../../domain/errors.js';
import { ClusterCaches } from './cluster-cache.js';
import type { ClusterRegistry } from './images.js';
import { SharedAgentKubeConfig } from './shared-agent.js';

/** Every write is a server-side apply by this field manager, forced (Rondo owns what it applies). */
export const FIELD_MANAGER = 'rondo';

/** What a `kubernetes` data plane record's `config` holds. */
export interface KubernetesConfig {
  /** The kubeconfig's YAML text. */
  kubeconfig: string;
  /** The context to use; the kubeconfig's current one when absent. */
  context?: string;
  /** Where the nodes pull the platform registry's images (absent: the address builds push to). */
  registry?: ClusterRegistry;
}

export function kubernetesConfig(id: string, config: Record<string, unknown>): KubernetesConfig {
  const { kubeconfig, context } = config;
  if (typeof kubeconfig !== 'string' || kubeconfig.trim() === '')
    throw new RondoError(
      'RONDO_ERR_UNAVAILABLE',
      `data plane ${id}: config.kubeconfig must hold the kubeconfig's YAML text (e.g. the output of \`kubectl config view --raw --minify\`)`,
    );
  if (context !== undefined && typeof context !== 'string')
    throw new RondoError(
      'RONDO_ERR_UNAVAILABLE',
      `data plane ${id}: config.context must be a context's name`,
    );
  const registry = config.registry as Partial<ClusterRegistry> | undefined;
  if (
    registry !== undefined &&
    (typeof registry.address !== 'string' ||
      (registry.username !== undefined && typeof registry.username !== 'string') ||
      (registry.password !== undefined && typeof registry.password !== 'string'))
  )
    throw new RondoError(
      'RONDO_ERR_UNAVAILABLE',
      `data plane ${id}: config.registry must be { address, username?, password? }`,
    );
  return {
    kubeconfig,
    ...(context === undefined ? {} : { context }),
    ...(registry === undefined ? {} : { registry: registry as ClusterRegistry }),
  };
}

/**
 * On every object Rondo applies through `applyChanged`: a hash of what it applied. An object whose
 * hash is the one Rondo would apply now is left alone, so a reconcile with nothing to change reads
 * and never writes (a server-side apply of the same object is still a PATCH, and with 1,000
 * components it was 1,000 of them per resync). A field someone else changed is not seen by the
 * hash: Rondo's next change of the object puts it back (the apply is forced).
 */
export const APPLIED_ANNOTATION = 'rondo.applied';

/** `o` with the hash of its content (without the hash) in `APPLIED_ANNOTATION`. */
export function stamped<T extends KubernetesObject>(o: T): T {
  const { [APPLIED_ANNOTATION]: _, ...annotations } = o.metadata?.annotations ?? {};
  const bare = { ...o, metadata: { ...o.metadata, annotations } };
  const hash = createHash('sha256').update(JSON.stringify(bare)).digest('hex').slice(0, 16);
  return { ...o, metadata: { ...o.metadata, annotations: { ...annotations, [APPLIED_ANNOTATION]: hash } } };
}

/** Whether `observed` is what applying `desired` would make it (by the hash Rondo stamped). */
export function isCurrent(observed: KubernetesObject | undefined, desired: KubernetesObject): boolean {
  const have = observed?.metadata?.annotations?.[APPLIED_ANNOTATION];
  return have !== undefined && have === stamped(desired).metadata?.annotations?.[APPLIED_ANNOTATION];
}

export const isNotFound = (err: unknown) => err instanceof ApiException && err.code === 404;
export const isConflict = (err: unknown) => err instanceof ApiException && err.code === 409;

/** The API server's own message of a failed call (its Status), else the error's. */
export function apiMessage(err: unknown): string {
  if (err instanceof ApiException) {
    const body = err.body as { message?: unknown } | string | undefined;
    if (body && typeof body === 'object' && typeof body.message === 'string') return body.message;
    if (typeof body === 'string') {
      try {
        const parsed = JSON.parse(body) as { message?: unknown };
        if (typeof parsed.message === 'string') return parsed.message;
      } catch {
        // not JSON: the text itself
      }
      if (body) return body;
    }
    return `HTTP ${err.code}`;
  }
  return err instanceof Error ? err.message : String(err);
}

/**
 * One cluster through one kubeconfig: the typed APIs the driver's parts share, over one
 * keep-alive connection pool (`shared-agent.ts`), and the installation's watch-backed caches
 * (`cluster-cache.ts`), which `stop` closes with the pool.
 */
export class Cluster {
  readonly kc = new SharedAgentKubeConfig();
  readonly core: CoreV1Api;
  readonly apps: AppsV1Api;
  readonly batch: BatchV1Api;
  readonly networking: NetworkingV1Api;
  readonly objects: KubernetesObjectApi;
  readonly log: Log;
  readonly #version: VersionApi;
  readonly server: string;

  constructor(
    readonly id: string,
    config: KubernetesConfig,
  ) {
    try {
      this.kc.loadFromString(config.kubeconfig);
      if (config.context) this.kc.setCurrentContext(config.context);
    } catch (err) {
      throw new RondoError(
        'RONDO_ERR_UNAVAILABLE',
        `data plane ${id}: its kubeconfig cannot be read (${apiMessage(err)}); store a valid kubeconfig in its config`,
        { cause: err },
      );
    }
    const cluster = this.kc.getCurrentCluster();
    if (!cluster)
      throw new RondoError(
        'RONDO_ERR_UNAVAILABLE',
        `data plane ${id}: the kubeconfig's context '${this.kc.getCurrentContext()}' names no cluster; fix config.context or the kubeconfig`,
      );
    this.server = cluster.server;
    this.core = this.kc.makeApiClient(CoreV1Api);
    this.apps = this.kc.makeApiClient(AppsV1Api);
    this.batch = this.kc.makeApiClient(BatchV1Api);
    this.networking = this.kc.makeApiClient(NetworkingV1Api);
    this.objects = KubernetesObjectApi.makeApiClient(this.kc);
    this.log = new Log(this.kc);
    this.#version = this.kc.makeApiClient(VersionApi);
    this.caches = new ClusterCaches(this);
  }

  /** Each installation's caches of this cluster, started on first use. */
  readonly caches: ClusterCaches;

  /** Closes the caches' watches and the pooled connections. */
  async stop(): Promise<void> {
    await this.caches.stop();
    this.kc.closeAgent();
  }

  /** An API error stays as it is (404s are answers); anything else means the cluster did not answer. */
  async call<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof ApiException && err.code !== 401 && err.code < 500) throw err;
      throw this.unavailable(err);
    }
  }

  unavailable(err: unknown): RondoError {
    if (err instanceof RondoError) return err;
    const why =
      err instanceof ApiException ? apiMessage(err) : err instanceof Error ? err.message : String(err);
    return new RondoError(
      'RONDO_ERR_UNAVAILABLE',
      `Kubernetes data plane ${this.id} at ${this.server} does not answer (${why}); check that its API server is running and reachable from the control plane, and that the kubeconfig's credentials and certificate authority are current`,
      { cause: err },
    );
  }

  /** GET /version, within `timeoutMs`. */
  async version(timeoutMs = 10_000): Promise<string> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer in ${timeoutMs / 1000} s`)), timeoutMs);
    });
    try {
      const v = await Promise.race([this.#version.getCode(), timeout]);
      return v.gitVersion;
    } catch (err) {
      throw this.unavailable(err);
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * GET of an API path as JSON, aborted after `timeoutMs` (the generated clients take no
   * deadline): what the status, the node proxy and the metrics API are read with. An answer
   * other than 2xx is an `ApiException` with the API server's Status, as the clients throw.
   */
  async getJson<T>(path: string, timeoutMs = 10_000): Promise<T> {
    const opts: https.RequestOptions = {};
    await this.kc.applyToHTTPSOptions(opts);
    // The pooled connections: the caches list through here, and the status every few seconds.
    opts.agent = this.kc.sharedAgent(opts.agent) ?? opts.agent;
    const url = new URL(`${this.server.replace(/\/+$/, '')}${path}`);
    const signal = AbortSignal.timeout(timeoutMs);
    const { status, text } = await new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = https.request(
        url,
        { ...opts, method: 'GET', headers: { ...opts.headers, accept: 'application/json' }, signal },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () =>
            resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }),
          );
          res.on('error', reject);
        },
      );
      req.on('error', (err) =>
        reject(signal.aborted ? new Error(`no answer in ${timeoutMs / 1000} s`, { cause: err }) : err),
      );
      req.end();
    });
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {
      // not JSON (a proxy's or the kubelet's plain text): kept as text
    }
    if (status < 200 || status > 299)
      throw new ApiException(status, `HTTP ${status} from GET ${path}`, body, {});
    return body as T;
  }

  /**
   * `apply` of `o` stamped with its hash, unless `observed` (the object as last read) already
   * carries that hash: then nothing is sent and `observed` is the answer.
   */
  async applyChanged<T extends KubernetesObject>(o: T, observed: T | undefined): Promise<T> {
    if (observed && isCurrent(observed, o)) return observed;
    return this.apply(stamped(o));
  }

  /** Server-side apply of a whole object as Rondo (forced): creates or updates it. */
  async apply<T extends KubernetesObject>(o: T): Promise<T> {
    try {
      return await this.call(() =>
        this.objects.patch(o, undefined, undefined, FIELD_MANAGER, true, PatchStrategy.ServerSideApply),
      );
    } catch (err) {
      if (!(err instanceof ApiException)) throw err;
      const where = [o.metadata?.namespace, o.metadata?.name].filter(Boolean).join('/');
      throw new Error(`the API server refused ${o.kind} ${where}: ${apiMessage(err)}`, { cause: err });
    }
  }
}
