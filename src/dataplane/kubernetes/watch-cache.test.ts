import { KubeConfig, type KubernetesObject } from '@kubernetes/client-node';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { WatchCache, type Watcher } from './watch-cache.js';

/**
 * The watch cache against a stand-in API server: a list answering what `objects` holds at
 * `version`, and watches the test feeds events into and ends (normally, with 410 Gone, or broken).
 */
function fakeServer() {
  const objects = new Map<string, KubernetesObject>();
  let version = 1;
  const lists: string[] = [];
  const watches: {
    query: Record<string, unknown>;
    event: (type: string, o: unknown) => void;
    end: (err: unknown) => void;
  }[] = [];
  let failList: Error | undefined;
  const pod = (name: string, v = version): KubernetesObject => ({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: 'ns', resourceVersion: String(v) },
  });
  const watcher: Watcher = {
    watch: async (_path, query, callback, done) => {
      const controller = new AbortController();
      watches.push({
        query,
        event: (type, o) => callback(type, o, { type, object: o }),
        end: (err) => done(err),
      });
      return controller;
    },
  };
  return {
    objects,
    lists,
    watches,
    watcher,
    pod,
    /** A change made on the server (a new version), not yet told to any watch. */
    put(name: string) {
      version++;
      const o = pod(name);
      objects.set(name, o);
      return o;
    },
    failNextList(err: Error) {
      failList = err;
    },
    list: async () => {
      if (failList) {
        const err = failList;
        failList = undefined;
        throw err;
      }
      lists.push(String(version));
      return {
        apiVersion: 'v1',
        kind: 'PodList',
        metadata: { resourceVersion: String(version) },
        items: [...objects.values()].map((o) => structuredClone(o)),
      };
    },
  };
}

const names = (cache: WatchCache<KubernetesObject>) =>
  cache
    .view()
    ?.list()
    .map((o) => o.metadata?.name)
    .sort();

/** Lets the cache's own promises (list, watch) run. */
const settle = () => new Promise((r) => setTimeout(r, 0));

let open: WatchCache<KubernetesObject> | undefined;
afterEach(async () => {
  vi.useRealTimers();
  await open?.stop();
  open = undefined;
});

function cacheOf(server: ReturnType<typeof fakeServer>) {
  open = new WatchCache<KubernetesObject>(
    new KubeConfig(),
    { path: '/api/v1/pods', list: server.list, labelSelector: 'rondo.instance=x' },
    server.watcher,
  );
  return open;
}

describe('WatchCache', () => {
  it('answers only once listed and watching, then follows the watch; the watch starts at the list’s version, with bookmarks', async () => {
    const server = fakeServer();
    server.put('a');
    const cache = cacheOf(server);
    expect(cache.view()).toBeUndefined();
    cache.start();
    await cache.whenSynced();
    expect(names(cache)).toEqual(['a']);
    expect(server.watches[0]?.query).toMatchObject({
      resourceVersion: '2',
      labelSelector: 'rondo.instance=x',
      allowWatchBookmarks: true,
    });
    const watch = server.watches[0];
    watch?.event('ADDED', server.put('b'));
    watch?.event('MODIFIED', server.put('a'));
    expect(cache.view()?.get('a', 'ns')?.metadata?.resourceVersion).toBe('4');
    server.objects.delete('b');
    watch?.event('DELETED', server.pod('b'));
    expect(names(cache)).toEqual(['a']);
  });

  it('finds objects by a label’s value, and follows added, changed and deleted ones', async () => {
    const server = fakeServer();
    const labelled = (name: string, component: string) => {
      const o = server.put(name);
      o.metadata = { ...o.metadata, labels: { 'rondo.component': component } };
      return o;
    };
    labelled('a', 'web');
    labelled('b', 'api');
    const cache = cacheOf(server);
    cache.start();
    await cache.whenSynced();
    const withWeb = () =>
      cache
        .withLabel('rondo.component', 'web')
        .map((o) => o.metadata?.name)
        .sort();
    expect(withWeb()).toEqual(['a']);
    const watch = server.watches[0];
    watch?.event('ADDED', labelled('c', 'web'));
    expect(withWeb()).toEqual(['a', 'c']);
    watch?.event('MODIFIED', labelled('a', 'api'));
    expect(withWeb()).toEqual(['c']);
    expect(
      cache
        .withLabel('rondo.component', 'api')
        .map((o) => o.metadata?.name)
        .sort(),
    ).toEqual(['a', 'b']);
    server.objects.delete('c');
    watch?.event('DELETED', server.pod('c'));
    expect(withWeb()).toEqual([]);
  });

  it('stops answering when the watch ends, and resumes from the last version seen without listing again', async () => {
    const server = fakeServer();
    server.put('a');
    const cache = cacheOf(server);
    cache.start();
    await cache.whenSynced();
    server.watches[0]?.event('ADDED', server.put('b'));
    server.watches[0]?.event('BOOKMARK', { metadata: { resourceVersion: '7' } });
    server.watches[0]?.end(null);
    expect(cache.view()).toBeUndefined();
    await cache.whenSynced();
    expect(server.lists).toHaveLength(1);
    expect(server.watches[1]?.query).toMatchObject({ resourceVersion: '7' });
    expect(names(cache)).toEqual(['a', 'b']);
  });

  it('lists again when the server no longer has the version (410 Gone), dropping what went meanwhile', async () => {
    const server = fakeServer();
    server.put('a');
    server.put('b');
    const cache = cacheOf(server);
    cache.start();
    await cache.whenSynced();
    server.objects.delete('b');
    server.put('c');
    server.watches[0]?.end(Object.assign(new Error('Gone'), { statusCode: 410 }));
    await settle();
    await cache.whenSynced();
    expect(server.lists).toHaveLength(2);
    expect(names(cache)).toEqual(['a', 'c']);
  });

  it('after a broken watch or a failed list, answers nothing until it has started again (after a backoff)', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const server = fakeServer();
    server.put('a');
    const cache = cacheOf(server);
    server.failNextList(new Error('connect ECONNREFUSED'));
    cache.start();
    await vi.advanceTimersByTimeAsync(0);
    expect(cache.view()).toBeUndefined();
    expect(server.watches).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(1000);
    expect(names(cache)).toEqual(['a']);
    // A connection that breaks: no answer until the watch is open again, 1 s later.
    server.watches[0]?.end(new Error('read ECONNRESET'));
    await vi.advanceTimersByTimeAsync(0);
    expect(cache.view()).toBeUndefined();
    await vi.advanceTimersByTimeAsync(1000);
    expect(names(cache)).toEqual(['a']);
    expect(server.watches).toHaveLength(2);
  });

  it('answers nothing after this process deleted an object until the watch shows it gone', async () => {
    const server = fakeServer();
    server.put('a');
    server.put('b');
    const cache = cacheOf(server);
    cache.start();
    await cache.whenSynced();
    server.objects.delete('b');
    cache.removed('b', 'ns');
    expect(cache.view()).toBeUndefined();
    server.watches[0]?.event('DELETED', server.pod('b'));
    expect(names(cache)).toEqual(['a']);
  });

  it('opens no watch when stopped during its first list', async () => {
    const server = fakeServer();
    let release: (() => void) | undefined;
    const slow = {
      ...server,
      list: async () => {
        await new Promise<void>((r) => {
          release = r;
        });
        return server.list();
      },
    };
    const cache = cacheOf(slow);
    cache.start();
    await settle();
    await cache.stop();
    release?.();
    await settle();
    expect(server.watches).toHaveLength(0);
    expect(cache.view()).toBeUndefined();
  });
});
