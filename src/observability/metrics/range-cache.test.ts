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

/** What the cache should answer: the grid points from Prometheus itself, then the point at `end`. */
async function expected(start: number, end: number, step: number): Promise<RangeSeries[]> {
  const p = fakePrometheus();
  const grid = await p.queryRange('q', Math.ceil(start / step) * step, Math.floor(end / step) * step, step);
  const tail = end % step ? await p.queryRange('q', end, end, step) : [];
  return grid.map((s) => ({
    metric: s.metric,
    values: [...s.values, ...(tail.find((x) => x.metric.replica === s.metric.replica)?.values ?? [])],
  }));
}

describe('RangeCache', () => {
  it('answers grid points and the newest one, asking Prometheus only for what has not settled', async () => {
    let nowS = 1010;
    const inner = fakePrometheus();
    const cache = new RangeCache(inner, { settleSeconds: 100, maxPoints: 1000, now: () => nowS * 1000 });
    expect(await cache.queryRange('q', 10, 1010, 60)).toEqual(await expected(10, 1010, 60));
    // The grid from the first multiple of 60 after 10, and the point at 1010 on its own.
    expect(inner.asked).toEqual([
      [60, 960],
      [1010, 1010],
    ]);

    // A minute later, the same window moved on: the grid up to 900 had settled and is not asked.
    nowS = 1070;
    expect(await cache.queryRange('q', 70, 1070, 60)).toEqual(await expected(70, 1070, 60));
    expect(inner.asked.slice(2)).toEqual([
      [960, 1020],
      [1070, 1070],
    ]);

    // A range starting before what is held is asked whole; an end on the grid needs no extra point.
    await cache.queryRange('q', 0, 1020, 60);
    expect(inner.asked.slice(4)).toEqual([[0, 1020]]);
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
