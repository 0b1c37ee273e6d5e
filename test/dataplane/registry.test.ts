import { describe, expect, it } from 'vitest';
import type { DataPlaneDriver } from '../../src/dataplane/driver.js';
import { type DataPlaneRecord, DataPlaneRegistry } from '../../src/dataplane/registry.js';
import { RondoError } from '../../src/domain/errors.js';

/** A stand-in client that only says which record made it (the registry never calls a client). */
const made = (record: DataPlaneRecord) => ({ record }) as unknown as DataPlaneDriver;

describe('DataPlaneRegistry', () => {
  it('makes each data plane’s client with the factory of its type, once per data plane', () => {
    const calls: string[] = [];
    const counting = (type: string) => (r: DataPlaneRecord) => {
      calls.push(`${type}:${r.id}`);
      return made(r);
    };
    const registry = new DataPlaneRegistry({ docker: counting('docker'), other: counting('other') });
    const a = registry.for({ id: 'dp_a', type: 'docker', config: {} });
    expect(registry.for({ id: 'dp_a', type: 'docker', config: {} })).toBe(a);
    const b = registry.for({ id: 'dp_b', type: 'other', config: { x: 1 } });
    expect(b).not.toBe(a);
    expect(calls).toEqual(['docker:dp_a', 'other:dp_b']);
    expect(registry.clients()).toEqual([
      ['dp_a', a],
      ['dp_b', b],
    ]);
  });

  it('stops every driver it made at shutdown (those that keep something open), even when one fails, and forgets them', async () => {
    const stopped: string[] = [];
    const registry = new DataPlaneRegistry({
      docker: made,
      watching: (r) =>
        ({
          stop: async () => {
            stopped.push(r.id);
            if (r.id === 'dp_bad') throw new Error('already closed');
          },
        }) as unknown as DataPlaneDriver,
    });
    registry.for({ id: 'dp_docker', type: 'docker', config: {} });
    registry.for({ id: 'dp_bad', type: 'watching', config: {} });
    const first = registry.for({ id: 'dp_k', type: 'watching', config: {} });
    await registry.shutdown();
    expect(stopped.sort()).toEqual(['dp_bad', 'dp_k']);
    expect(registry.clients()).toEqual([]);
    expect(registry.for({ id: 'dp_k', type: 'watching', config: {} })).not.toBe(first);
  });

  it('refuses a type it has no driver for, saying which it has, and keeps nothing', () => {
    const registry = new DataPlaneRegistry({ docker: made });
    for (const type of ['kubernetes', 'constructor', '__proto__']) {
      let thrown: unknown;
      try {
        registry.for({ id: 'dp_k', type, config: {} });
      } catch (err) {
        thrown = err;
      }
      expect(thrown, type).toBeInstanceOf(RondoError);
      expect((thrown as RondoError).code).toBe('RONDO_ERR_UNAVAILABLE');
      expect((thrown as Error).message).toContain(`'${type}'`);
      expect((thrown as Error).message).toContain('it drives: docker');
    }
    expect(registry.clients()).toEqual([]);
  });

  it('says which types it drives (the loops over every data plane skip the others)', () => {
    const registry = new DataPlaneRegistry({ docker: made });
    expect(registry.drives('docker')).toBe(true);
    for (const type of ['kubernetes', 'constructor', '__proto__'])
      expect(registry.drives(type), type).toBe(false);
  });
});
