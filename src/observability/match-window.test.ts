import { describe, expect, it } from 'vitest';
import { type Match, MatchWindows } from './match-window.js';

/** A table in memory: rows with ids in insertion order; `matching` says which rows match. */
function table() {
  const rows: (Match & { matching: boolean })[] = [];
  const scans: (bigint | undefined)[] = [];
  return {
    rows,
    scans,
    add(atUs: number, matching = true) {
      rows.push({ id: String(rows.length + 1), atUs: BigInt(atUs), matching });
    },
    lastId: async () => BigInt(rows.length),
    scanner: (threshold: number, fromUs: bigint) => async (after: bigint | undefined, upTo: bigint) => {
      scans.push(after);
      return rows
        .filter((r) => r.matching && r.atUs >= fromUs && (after === undefined || BigInt(r.id) > after))
        .filter((r) => BigInt(r.id) <= upTo)
        .sort((a, b) => Number(b.atUs - a.atUs))
        .slice(0, threshold);
    },
  };
}

describe('match windows', () => {
  it('reads the window once, then only what was stored since, and ages matches out', async () => {
    const w = new MatchWindows();
    const t = table();
    for (let i = 0; i < 20_000; i++) t.add(i, i % 1000 === 0); // 20 matches among 20,000 rows
    const count = (fromUs: number) =>
      w.count('r1', 'k', 50, BigInt(fromUs), t.lastId, t.scanner(50, BigInt(fromUs)));
    expect(await count(0)).toBe(20);
    expect(t.scans).toEqual([undefined]);
    t.add(20_000);
    t.add(20_001, false);
    expect(await count(0)).toBe(21);
    // Only rows after the last id read (less an overlap for late commits), and none counted twice.
    expect(t.scans[1]).toBe(20_000n - 2_000n);
    expect(await count(0)).toBe(21);
    // Time passes: matches before the window's start no longer count, without reading them again.
    expect(await count(15_000)).toBe(6);
    expect(await count(20_001)).toBe(0);
  });

  it('keeps the newest matches up to the threshold, and starts over when the rule changed', async () => {
    const w = new MatchWindows();
    const t = table();
    for (let i = 0; i < 10; i++) t.add(i);
    expect(await w.count('r1', 'a', 3, 0n, t.lastId, t.scanner(3, 0n))).toBe(3);
    expect(await w.count('r1', 'b', 5, 0n, t.lastId, t.scanner(5, 0n))).toBe(5);
    expect(t.scans.at(-1)).toBeUndefined();
    // Only the newest 5 are kept: once the window starts at 7, 3 remain.
    expect(await w.count('r1', 'b', 5, 7n, t.lastId, t.scanner(5, 7n))).toBe(3);
    w.keepOnly(new Set());
    await w.count('r1', 'b', 5, 0n, t.lastId, t.scanner(5, 0n));
    expect(t.scans.at(-1)).toBeUndefined();
  });
});
