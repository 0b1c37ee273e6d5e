import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PrometheusApi } from './prometheus-api.js';

/** A stand-in query_range: one series per `job`, a point at every step of the asked range. */
describe('PrometheusApi.queryRange', () => {
  const asked: [number, number][] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (d) => {
      body += d;
    });
    req.on('end', () => {
      const q = new URLSearchParams(body);
      const [start, end, step] = ['start', 'end', 'step'].map((k) => Number(q.get(k)));
      asked.push([start!, end!]);
      const values: [number, string][] = [];
      for (let t = start!; t <= end!; t += step!) values.push([t, String(t)]);
      const result = ['a', 'b'].map((job) => ({ metric: { job }, values }));
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ status: 'success', data: { resultType: 'matrix', result } }));
    });
  });
  let api: PrometheusApi;
  beforeAll(async () => {
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    api = new PrometheusApi(`127.0.0.1:${(server.address() as AddressInfo).port}`);
  });
  afterAll(() => server.close());

  it('asks a short range at once', async () => {
    asked.length = 0;
    const series = await api.queryRange('up', 0, 600, 60);
    expect(asked).toEqual([[0, 600]]);
    expect(series[0]?.values.map(([t]) => t)).toEqual([0, 60, 120, 180, 240, 300, 360, 420, 480, 540, 600]);
  });

  it('asks a day in two halves side by side and joins them: every step once, in order', async () => {
    asked.length = 0;
    const series = await api.queryRange('up', 60, 86_460, 60);
    expect(asked).toHaveLength(2);
    expect(series.map((s) => s.metric.job)).toEqual(['a', 'b']);
    for (const s of series) {
      const times = s.values.map(([t]) => t);
      expect(times).toHaveLength(1441);
      expect(times[0]).toBe(60);
      expect(times.at(-1)).toBe(86_460);
      expect(times.every((t, i) => i === 0 || t - times[i - 1]! === 60)).toBe(true);
    }
  });
});
