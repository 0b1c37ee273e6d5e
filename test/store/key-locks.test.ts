import { afterAll, describe, expect, it } from 'vitest';
import { keyLocks } from '../../src/store/key-locks.js';
import { openStore, type Store } from '../../src/store/store.js';
import { testStoreConfig } from '../helpers/stores.js';

describe('reconcile key locks on PostgreSQL: one control plane at a time per key', async () => {
  const { config, cleanup } = await testStoreConfig('postgres');
  const a: Store = await openStore(config);
  const b: Store = await openStore(config);
  afterAll(async () => {
    await Promise.all([a.close(), b.close()]);
    await cleanup();
  });

  it('refuses a key another control plane holds, and hands it over once released or its holder dies', async () => {
    const one = keyLocks(a);
    const two = keyLocks(b);
    expect(await one.tryLock('c1/e1')).toBe(true);
    expect(await two.tryLock('c1/e1')).toBe(false);
    expect(await two.tryLock('c2/e1')).toBe(true);
    await one.unlock('c1/e1');
    expect(await two.tryLock('c1/e1')).toBe(true);
    // A holder that closes (or dies: its connection closes) releases everything it held.
    await two.close();
    expect(await one.tryLock('c1/e1')).toBe(true);
    expect(await one.tryLock('c2/e1')).toBe(true);
    await one.close();
  });
});

describe('reconcile key locks on PGlite', () => {
  it('always grant: the data directory belongs to one process, whose work queue already serializes keys', async () => {
    const { config } = await testStoreConfig('pglite');
    const store = await openStore(config);
    const locks = keyLocks(store);
    expect(await locks.tryLock('c1/e1')).toBe(true);
    await locks.unlock('c1/e1');
    await locks.close();
    await store.close();
  });
});
