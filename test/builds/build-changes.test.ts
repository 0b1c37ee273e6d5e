import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { BuildChanges } from '../../src/builds/build-changes.js';

describe('build changes', () => {
  it('wakes every follower of a build when it changes, and only those', async () => {
    const changes = new BuildChanges();
    const woke: string[] = [];
    const a1 = changes.next('bld_a', 60_000).then(() => woke.push('a1'));
    const a2 = changes.next('bld_a', 60_000).then(() => woke.push('a2'));
    const b = changes.next('bld_b', 60_000).then(() => woke.push('b'));
    changes.changed('bld_a');
    await Promise.all([a1, a2]);
    expect(woke.sort()).toEqual(['a1', 'a2']);
    changes.changed('bld_b');
    await b;
    expect(woke).toContain('b');
  });

  it('wakes a follower after its limit when nothing changes, and forgets it', async () => {
    const changes = new BuildChanges();
    await changes.next('bld_a', 30);
    // A change after the limit finds nobody waiting; a new follower waits for the next one.
    changes.changed('bld_a');
    let woke = false;
    const next = changes.next('bld_a', 60_000).then(() => {
      woke = true;
    });
    await Promise.race([next, sleep(50)]);
    expect(woke).toBe(false);
    changes.changed('bld_a');
    await next;
    expect(woke).toBe(true);
  });
});
