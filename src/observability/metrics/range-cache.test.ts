import { describe, expect, it } from 'vitest';
import type { RangeSeries } from './prometheus-api.js';
import { RangeCache } from './range-cache.js';

/** A Prometheus stand-in: two series whose value at t is a function of t, and what it was asked. */
function fakePrometheus() {
  const asked: [number, number][] = [];
  return {
    asked,
    async queryRange(_promql: string, start: number, end: number, step: number): Promise<RangeSeries[]> {
      asked.push([start, end]);
      const at = (k: number) => {
        const values: [number, string][] = [];
        // The second series has no points before t=600 (a replica that started later).
        for (let t = start; t <= end; t += step) if (k === 1 || t >= 600) values.push([t, String(t * k)]);
        return values;
      };
      return [
        { metric: { replica: '1' }, values: at(1) },
        { metric: { replica: '2' }, values: at(2) },
      ].filter((s) => s.values.length > 0);
    },
  };
}

describe('RangeCache', () => {
  it('answers as Prometheus does and asks it only for the steps after the settled ones', async () => {
    let nowS = 1000;
    const inner = fakePrometheus();
    const cache = new RangeCache(inner, { settleSeconds: 100, maxPoints: 1000, now: () => nowS * 1000 });
    const first = await cache.queryRange('q', 0, 1000, 60);
    expect(first).toEqual(await fakePrometheus().queryRange('q', 0, 1000, 60));
    expect(inner.asked).toEqual([[0, 1000]]);

    // A minute later, the same window moved on: only what had not settled (after 900) is asked.
    nowS = 1060;
    const second = await cache.queryRange('q', 60, 1060, 60);
    expect(second).toEqual(await fakePrometheus().queryRange('q', 60, 1060, 60));
    expect(inner.asked[1]).toEqual([960, 1060]);

    // A range starting before what is held, or off the grid, is asked whole.
    await cache.queryRange('q', 0, 1060, 60);
    expect(inner.asked[2]).toEqual([0, 1060]);
    await cache.queryRange('q', 30, 1060, 60);
    expect(inner.asked[3]).toEqual([30, 1060]);
  });

  it('keeps each query and step apart', async () => {
    const inner = fakePrometheus();
    const cache = new RangeCache(inner, { settleSeconds: 0, maxPoints: 1000, now: () => 2_000_000 });
    await cache.queryRange('a', 0, 600, 60);
    await cache.queryRange('b', 0, 600, 60);
    await cache.queryRange('a', 0, 600, 30);
    expect(inner.asked).toHaveLength(3);
    // All settled: asked again, nothing reaches Prometheus.
    expect(await cache.queryRange('a', 0, 600, 60)).toEqual(
      await fakePrometheus().queryRange('a', 0, 600, 60),
    );
    expect(inner.asked).toHaveLength(3);
  });

  it('drops the least recently used queries past its bound', async () => {
    const inner = fakePrometheus();
    // 11 points of one series and 1 of the other per query: two queries fit, not three.
    const cache = new RangeCache(inner, { settleSeconds: 0, maxPoints: 25, now: () => 2_000_000 });
    await cache.queryRange('a', 0, 600, 60);
    await cache.queryRange('b', 0, 600, 60);
    await cache.queryRange('a', 0, 600, 60); // a is now the most recently used
    await cache.queryRange('c', 0, 600, 60); // drops b
    const before = inner.asked.length;
    await cache.queryRange('a', 0, 600, 60);
    expect(inner.asked).toHaveLength(before);
    await cache.queryRange('b', 0, 600, 60);
    expect(inner.asked).toHaveLength(before + 1);
  });
});
