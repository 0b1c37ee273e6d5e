import { describe, expect, it } from 'vitest';
import { RondoError } from '../../src/domain/errors.js';
import {
  checkRange,
  MAX_POINTS,
  metricQueries,
  parseStep,
  selectorOf,
} from '../../src/observability/metrics/metric-queries.js';
import { loadMetricsSettings, parseRetention } from '../../src/observability/metrics/metrics-settings.js';

const limits = { retentionSeconds: 15 * 86_400, scrapeIntervalSeconds: 5 };
const NOW = Date.parse('2026-11-30T12:00:00Z');
const scope = { componentId: 'c-1', environmentId: 'e-1' };

function fieldsOf(fn: () => unknown): { field: string; message: string }[] {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(RondoError);
    expect((err as RondoError).code).toBe('RONDO_ERR_INPUT_INVALID');
    return [...(err as RondoError).fields];
  }
  throw new Error('expected a refusal');
}

describe('metric queries', () => {
  it('every service query is scoped to the component and environment, and only to them', () => {
    const queries = metricQueries('service', scope, 60);
    expect(queries.map((q) => (q.shape === 'single' ? q.name : q.shape))).toEqual([
      'requests',
      'quantiles',
      'cpu',
      'memory',
      'restarts',
      'oomKills',
    ]);
    for (const q of queries) {
      // CPU reads two series (a counter, or a data plane's rate): each scoped the same.
      const selectors = q.promql.match(/\{[^}]*\}/g) ?? [];
      expect(selectors.length, q.promql).toBeGreaterThanOrEqual(1);
      for (const s of selectors) expect(s, q.promql).toBe('{component_id="c-1",environment_id="e-1"}');
    }
    expect(queries[1]).toEqual({
      shape: 'quantiles',
      unit: 'ms',
      scale: 1000,
      quantiles: [
        ['latencyP50', 0.5],
        ['latencyP95', 0.95],
        ['latencyP99', 0.99],
      ],
      promql:
        'sum by (le) (rate(rondo_gateway_request_duration_seconds_bucket{component_id="c-1",environment_id="e-1"}[60s]))',
    });
  });

  it('tasks get executions per status and durations', () => {
    const queries = metricQueries('task', scope, 20);
    expect(queries.map((q) => q.shape)).toEqual(['by', 'quantiles']);
    expect(queries[0]).toMatchObject({ name: 'executions', by: 'status' });
  });

  it('a quote or backslash in an id cannot leave the label value', () => {
    expect(selectorOf({ componentId: 'a"} or up{x="', environmentId: 'b\\' })).toBe(
      '{component_id="a\\"} or up{x=\\"",environment_id="b\\\\"}',
    );
  });
});

describe('metric ranges', () => {
  it('defaults to the last hour at about 240 points, never finer than a scrape', () => {
    const r = checkRange({}, limits, NOW);
    expect(r.end - r.start).toBe(3600);
    expect(r.stepSeconds).toBe(15);
    expect(r.windowSeconds).toBe(20);
    expect(checkRange({ from: '10m' }, limits, NOW).stepSeconds).toBe(5);
  });

  it('takes ISO times, unix seconds and durations back from now; steps in s, m, h', () => {
    const r = checkRange({ from: '2026-11-29T12:00:00Z', to: String(NOW / 1000), step: '1m' }, limits, NOW);
    expect([r.start, r.end, r.stepSeconds, r.windowSeconds]).toEqual([
      NOW / 1000 - 86_400,
      NOW / 1000,
      60,
      60,
    ]);
    expect(checkRange({ from: '24h', step: '60' }, limits, NOW).start).toBe(NOW / 1000 - 86_400);
    expect([parseStep('15s'), parseStep('5m'), parseStep('1h'), parseStep('1d'), parseStep('x')]).toEqual([
      15,
      300,
      3600,
      undefined,
      undefined,
    ]);
  });

  it('refuses garbage naming each field', () => {
    expect(fieldsOf(() => checkRange({ from: 'yesterday', to: 'soon', step: 'fast' }, limits, NOW))).toEqual([
      { field: 'from', message: expect.stringContaining('duration back from now') },
      { field: 'to', message: expect.stringContaining('ISO time') },
      { field: 'step', message: expect.stringContaining('15s') },
    ]);
    expect(fieldsOf(() => checkRange({ step: '0' }, limits, NOW))[0]?.field).toBe('step');
    expect(fieldsOf(() => checkRange({ from: '1h', to: '2h' }, limits, NOW))).toEqual([
      { field: 'to', message: 'must be after from' },
    ]);
  });

  it('refuses a range past the retention, saying the oldest time it can give', () => {
    const [problem] = fieldsOf(() => checkRange({ from: '16d' }, limits, NOW));
    expect(problem).toEqual({
      field: 'from',
      message: 'is beyond the metrics retention (15 days); give 2026-11-15T12:00:00.000Z or later',
    });
    expect(checkRange({ from: '15d' }, limits, NOW).start).toBe(NOW / 1000 - 15 * 86_400);
  });

  it('refuses more points than Prometheus answers, with the step that would do', () => {
    const [problem] = fieldsOf(() => checkRange({ from: '7d', step: '5s' }, limits, NOW));
    expect(problem?.field).toBe('step');
    expect(problem?.message).toContain(`at most ${MAX_POINTS}`);
    expect(problem?.message).toContain('at least 55 s');
    expect(checkRange({ from: '7d', step: '55' }, limits, NOW).stepSeconds).toBe(55);
  });
});

describe('metrics settings', () => {
  it('retention is hours, days or weeks between 1 h and 5 years', () => {
    expect(parseRetention('15d')).toBe(15 * 86_400);
    expect(parseRetention('2w')).toBe(14 * 86_400);
    expect(parseRetention('1h')).toBe(3600);
    for (const bad of ['', '15', '30m', '0d', '10y', '1.5d', '-1d', '99999w'])
      expect(() => parseRetention(bad), bad).toThrow(/RONDO_METRICS_RETENTION must be hours, days or weeks/);
  });

  it('defaults to 15 days on 127.0.0.1:7074 every 5 s; a listen address off loopback is refused', () => {
    expect(loadMetricsSettings({})).toEqual({
      listen: '127.0.0.1:7074',
      retention: '15d',
      retentionSeconds: 15 * 86_400,
      scrapeIntervalSeconds: 5,
    });
    expect(() => loadMetricsSettings({ RONDO_METRICS_LISTEN: '0.0.0.0:9090' })).toThrow(/loopback/);
    expect(() => loadMetricsSettings({ RONDO_METRICS_RETENTION: 'forever' })).toThrow(/15d/);
  });
});
