import { ApiException, type KubernetesObject, type ObjectCache } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import type { RoutingState } from '../driver.js';
import { LABEL } from '../labels.js';
import { APPLIED_ANNOTATION, Cluster, isCurrent, stamped } from './cluster.js';
import { Environments, namespaceName } from './environments.js';
import { ClusterImages } from './images.js';
import { Traffic } from './traffic.js';

/**
 * An idle pass reads only: `environments.ensure` and `traffic.publish` of what is already there
 * send no write to the API server (G6 speed: "no write calls" on a reconcile with nothing to
 * change). The API server is an in-memory stand-in of the calls these two make; every write is
 * counted, by verb.
 */
function fakeCluster() {
  const objects = new Map<string, KubernetesObject>();
  const writes: string[] = [];
  /** Every read sent to the API server (the caches' answers are not). */
  const reads: string[] = [];
  /** The Services the caches were told this process deleted. */
  const removed: string[] = [];
  /** What the watch-backed caches show, when in sync (`syncCaches`); a copy that may lag. */
  let cached: Map<string, KubernetesObject> | undefined;
  const key = (kind: string, namespace: string | undefined, name: string) =>
    `${kind}/${namespace ?? ''}/${name}`;
  const notFound = () => new ApiException(404, 'not found', {}, {});
  const matches = (o: KubernetesObject, labelSelector: string) =>
    labelSelector
      .split(',')
      .map((kv) => kv.split('='))
      .every(([k, v]) => o.metadata?.labels?.[k ?? ''] === v);
  const ofKind = (kind: string) => [...objects.values()].filter((o) => o.kind === kind);
  const view = (kind: string): ObjectCache<KubernetesObject> | undefined => {
    const now = cached;
    if (!now) return undefined;
    const all = () => [...now.values()].filter((o) => o.kind === kind);
    return {
      get: (name, namespace) => now.get(key(kind, namespace, name)),
      list: (namespace) =>
        all().filter((o) => namespace === undefined || o.metadata?.namespace === namespace),
    };
  };
  const cluster = Object.create(Cluster.prototype) as Cluster;
  Object.assign(cluster, {
    id: 'fake',
    server: 'https://fake',
    caches: {
      of: () => ({
        namespaces: { view: () => view('Namespace'), removed: () => undefined },
        networkPolicies: { view: () => view('NetworkPolicy') },
        pullSecrets: { view: () => view('Secret') },
        services: {
          view: () => view('Service'),
          removed: (name: string, namespace: string) => removed.push(`${namespace}/${name}`),
        },
        nodes: { view: () => view('Node') },
      }),
    },
    call: <T>(fn: () => Promise<T>) => fn(),
    apply: async <T extends KubernetesObject>(o: T) => {
      writes.push(`PATCH ${o.kind} ${o.metadata?.name}`);
      const stored = structuredClone(o);
      objects.set(key(o.kind ?? '', o.metadata?.namespace, o.metadata?.name ?? ''), stored);
      return stored;
    },
    core: {
      readNamespace: async ({ name }: { name: string }) => {
        reads.push(`GET Namespace ${name}`);
        const o = objects.get(key('Namespace', undefined, name));
        if (!o) throw notFound();
        return structuredClone(o);
      },
      readNamespacedSecret: async ({ name, namespace }: { name: string; namespace: string }) => {
        reads.push(`GET Secret ${name}`);
        const o = objects.get(key('Secret', namespace, name));
        if (!o) throw notFound();
        return structuredClone(o);
      },
      listNode: async () => {
        reads.push('LIST Node');
        return { items: [] };
      },
      listServiceForAllNamespaces: async ({ labelSelector }: { labelSelector: string }) => {
        reads.push('LIST Service');
        return {
          items: ofKind('Service')
            .filter((o) => matches(o, labelSelector))
            .map((o) => structuredClone(o)),
        };
      },
      deleteNamespacedService: async ({ name, namespace }: { name: string; namespace: string }) => {
        writes.push(`DELETE Service ${name}`);
        objects.delete(key('Service', namespace, name));
      },
    },
    networking: {
      listNamespacedNetworkPolicy: async ({ namespace }: { namespace: string }) => {
        reads.push('LIST NetworkPolicy');
        return {
          items: ofKind('NetworkPolicy')
            .filter((o) => o.metadata?.namespace === namespace)
            .map((o) => structuredClone(o)),
        };
      },
    },
  });
  /** The caches catch up with the server (a watch delivered everything). */
  const syncCaches = () => {
    cached = new Map([...objects].map(([k, o]) => [k, structuredClone(o)]));
    return cached;
  };
  return { cluster, writes, reads, removed, objects, syncCaches };
}

const REF = { instance: 'idle', org: 'acme', project: 'shop', environment: 'prod' };

function routing(ports: number[]): RoutingState {
  const owner = {
    orgId: 'o',
    projectId: 'p',
    componentId: 'cmp_web',
    environmentId: 'e',
    deploymentId: 'dep_1',
  };
  return {
    revisions: [{ ...REF, deployment: 'dep_1', names: [], switching: false }],
    hosts: [
      {
        host: 'prod.localhost',
        routes: ports.map((port) => ({
          deployment: 'dep_1',
          port,
          owner,
          prefix: '/acme/shop/web/rest',
          basePath: '/',
          componentPrefix: '/acme/shop/web',
        })),
      },
    ],
    webApps: [],
    internal: [],
  };
}

describe('an idle pass writes nothing to the API server', () => {
  it('stamps a hash that ignores the hash itself and changes with the content', () => {
    const o: KubernetesObject = {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'a', annotations: { x: '1' } },
    };
    const s = stamped(o);
    expect(s.metadata?.annotations?.[APPLIED_ANNOTATION]).toMatch(/^[0-9a-f]{16}$/);
    expect(stamped(s)).toEqual(s);
    expect(isCurrent(s, o)).toBe(true);
    expect(isCurrent(s, { ...o, metadata: { ...o.metadata, annotations: { x: '2' } } })).toBe(false);
    expect(isCurrent(o, o)).toBe(false);
  });

  it('environments.ensure applies the namespace, its policies and pull Secret once', async () => {
    const { cluster, writes } = fakeCluster();
    const images = new ClusterImages('127.0.0.1:7073', {
      address: '10.0.0.5:5000',
      username: 'puller',
      password: 'pw',
    });
    const environments = new Environments(cluster, images);
    const first = await environments.ensure(REF);
    expect(first.name).toBe(namespaceName(REF));
    expect(writes).toEqual([
      `PATCH Namespace ${first.name}`,
      'PATCH NetworkPolicy rondo-default-deny',
      'PATCH NetworkPolicy rondo-same-environment',
      'PATCH Secret rondo-registry',
    ]);
    writes.length = 0;
    const again = await environments.ensure(REF);
    expect(again).toEqual(first);
    expect(writes).toEqual([]);
    // Changed credentials are applied again (the Secret only).
    const moved = new Environments(
      cluster,
      new ClusterImages('127.0.0.1:7073', { address: '10.0.0.5:5000', username: 'puller', password: 'new' }),
    );
    await moved.ensure(REF);
    expect(writes).toEqual(['PATCH Secret rondo-registry']);
  });

  it('traffic.publish applies a Service once, again only when it changes, and prunes', async () => {
    const { cluster, writes, removed } = fakeCluster();
    const environments = new Environments(cluster);
    await environments.ensure(REF);
    const traffic = new Traffic(cluster, environments);
    writes.length = 0;
    await traffic.publish(routing([8080]));
    expect(writes).toEqual(['PATCH Service cmp-web-3968f540']);
    writes.length = 0;
    for (let i = 0; i < 3; i++) await traffic.publish(routing([8080]));
    expect(writes).toEqual([]);
    await traffic.publish(routing([8080, 9090]));
    expect(writes).toEqual(['PATCH Service cmp-web-3968f540']);
    writes.length = 0;
    await traffic.publish({ revisions: [], hosts: [], webApps: [], internal: [] });
    expect(writes).toEqual(['DELETE Service cmp-web-3968f540']);
    // The Service cache is told, so a publish right after does not find the Service in it.
    expect(removed).toEqual([`${namespaceName(REF)}/cmp-web-3968f540`]);
  });

  it('an object written before the hash existed is applied once more, then left alone', async () => {
    const { cluster, writes, objects } = fakeCluster();
    const environments = new Environments(cluster);
    const env = await environments.ensure(REF);
    const ns = objects.get(`Namespace//${env.name}`);
    delete ns?.metadata?.annotations?.[APPLIED_ANNOTATION];
    writes.length = 0;
    await environments.ensure(REF);
    expect(writes).toEqual([`PATCH Namespace ${env.name}`]);
    writes.length = 0;
    await environments.ensure(REF);
    expect(writes).toEqual([]);
    expect(objects.get(`Namespace//${env.name}`)?.metadata?.labels?.[LABEL.instance]).toBe('idle');
  });

  it('with its caches in sync, an idle ensure and publish send no call at all, not even a read', async () => {
    const { cluster, writes, reads, syncCaches } = fakeCluster();
    const environments = new Environments(cluster);
    const traffic = new Traffic(cluster, environments);
    await environments.ensure(REF);
    await traffic.publish(routing([8080]));
    syncCaches();
    reads.length = 0;
    writes.length = 0;
    await environments.ensure(REF);
    await traffic.publish(routing([8080]));
    expect(reads).toEqual([]);
    expect(writes).toEqual([]);
  });

  it('a cache that lags costs a live read, and the write is decided on that read', async () => {
    const { cluster, writes, reads, syncCaches } = fakeCluster();
    const environments = new Environments(cluster);
    const traffic = new Traffic(cluster, environments);
    const env = await environments.ensure(REF);
    await traffic.publish(routing([8080]));
    const cache = syncCaches();
    // The server has the second port already; the cache has not seen it yet.
    await traffic.publish(routing([8080, 9090]));
    writes.length = 0;
    reads.length = 0;
    await traffic.publish(routing([8080, 9090]));
    expect(reads).toEqual([`GET Namespace ${env.name}`, 'LIST Service']);
    expect(writes).toEqual([]);
    // A namespace the cache does not show yet is read, with its policies: all there, nothing written.
    cache.delete(`Namespace//${env.name}`);
    reads.length = 0;
    await environments.ensure(REF);
    expect(reads).toEqual([`GET Namespace ${env.name}`, 'LIST NetworkPolicy', 'LIST Node']);
    expect(writes).toEqual([]);
  });
});
