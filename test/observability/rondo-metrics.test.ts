import { describe, expect, it } from 'vitest';
import type { GatewayRequest } from '../../src/observability/gateway-requests.js';
import { RondoMetrics, statusClass } from '../../src/observability/metrics/rondo-metrics.js';

const owner = { orgId: 'o1', projectId: 'p1', componentId: 'c1', environmentId: 'e1' };
const LABELS = 'org_id="o1",project_id="p1",component_id="c1",environment_id="e1"';

function request(status: number, durationMs: number, outcome = 'BACKEND_RESPONSE', i = 0): GatewayRequest {
  return {
    ...owner,
    at: new Date(),
    deploymentId: 'd1',
    method: 'GET',
    path: `/shop/api/items/${i}?secret=planted-${i}`,
    status,
    outcome,
    durationMs,
    bytes: 10,
    requestId: `req-${i}`,
  };
}

/** The value of one exposition line, by its exact series. */
function seriesValue(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('gateway requests as metrics', () => {
  it('counts by status class and outcome and observes latency per component and environment', async () => {
    const m = new RondoMetrics();
    const batch = [
      ...Array.from({ length: 90 }, (_, i) => request(200, 20, 'BACKEND_RESPONSE', i)),
      ...Array.from({ length: 8 }, (_, i) => request(500, 40, 'BACKEND_RESPONSE', 100 + i)),
      request(503, 1, 'NO_HEALTHY_BACKEND', 200),
      request(502, 700, 'SOMETHING_NEW', 201),
    ];
    m.recordGatewayRequests(batch.slice(0, 50));
    m.recordGatewayRequests(batch.slice(50));
    const { text, contentType } = await m.scrape();
    expect(contentType).toContain('text/plain');
    const requests = (cls: string, outcome: string) =>
      seriesValue(text, `rondo_gateway_requests_total{${LABELS},status_class="${cls}",outcome="${outcome}"}`);
    expect(requests('2xx', 'BACKEND_RESPONSE')).toBe(90);
    expect(requests('5xx', 'BACKEND_RESPONSE')).toBe(8);
    expect(requests('5xx', 'NO_HEALTHY_BACKEND')).toBe(1);
    // An outcome outside §7's list is counted, under OTHER: the label stays bounded.
    expect(requests('5xx', 'OTHER')).toBe(1);
    const bucket = (le: string) =>
      seriesValue(text, `rondo_gateway_request_duration_seconds_bucket{le="${le}",${LABELS}}`);
    expect(bucket('0.005')).toBe(1);
    expect(bucket('0.025')).toBe(91);
    expect(bucket('0.05')).toBe(99);
    expect(bucket('0.75')).toBe(100);
    expect(seriesValue(text, `rondo_gateway_request_duration_seconds_count{${LABELS}}`)).toBe(100);
    expect(seriesValue(text, `rondo_gateway_request_duration_seconds_sum{${LABELS}}`)).toBeCloseTo(
      (90 * 20 + 8 * 40 + 1 + 700) / 1000,
    );
    // Nothing per request is a label: no path, query, request id or deployment.
    for (const per of ['/shop/api', 'planted-', 'req-', 'd1"', 'GET']) expect(text).not.toContain(per);
  });

  it('exposes the control plane’s own process series and the replicas of the last sample only', async () => {
    const m = new RondoMetrics();
    const labels = {
      org_id: 'o1',
      project_id: 'p1',
      component_id: 'c1',
      environment_id: 'e1',
      deployment_id: 'd1',
      replica: '0',
    };
    m.setReplicas([{ labels, cpuSeconds: 1.5, memoryBytes: 64 * 1024 * 1024, restarts: 2 }]);
    let { text } = await m.scrape();
    expect(text).toMatch(/^process_cpu_user_seconds_total \d/m);
    expect(text).toMatch(/^nodejs_heap_size_used_bytes \d/m);
    const replica = `{${LABELS},deployment_id="d1",replica="0"}`;
    expect(seriesValue(text, `rondo_replica_cpu_seconds_total${replica}`)).toBe(1.5);
    expect(seriesValue(text, `rondo_replica_memory_bytes${replica}`)).toBe(64 * 1024 * 1024);
    expect(seriesValue(text, `rondo_replica_restarts_total${replica}`)).toBe(2);
    expect(seriesValue(text, `rondo_replica_cpu_millicores${replica}`)).toBeUndefined();
    // A data plane that gives a rate (Kubernetes' metrics API): the gauge, and no counter.
    m.setReplicas([{ labels, cpuMillicores: 250, memoryBytes: 1024, restarts: 0 }]);
    ({ text } = await m.scrape());
    expect(seriesValue(text, `rondo_replica_cpu_millicores${replica}`)).toBe(250);
    expect(seriesValue(text, `rondo_replica_cpu_seconds_total${replica}`)).toBeUndefined();
    m.setReplicas([]);
    ({ text } = await m.scrape());
    expect(seriesValue(text, `rondo_replica_memory_bytes${replica}`)).toBeUndefined();
  });

  it('status classes', () => {
    expect([101, 200, 299, 404, 503, 599, 600, 0, 20.5].map(statusClass)).toEqual([
      '1xx',
      '2xx',
      '2xx',
      '4xx',
      '5xx',
      '5xx',
      'other',
      'other',
      'other',
    ]);
  });
});

describe('a running component before its first request', () => {
  it('has its gateway series at zero, and later requests add to them', async () => {
    const m = new RondoMetrics();
    const owner = { org_id: 'o1', project_id: 'p1', component_id: 'c1', environment_id: 'e1' };
    m.expectTraffic(owner);
    let { text } = await m.scrape();
    const ok = `rondo_gateway_requests_total{${LABELS},status_class="2xx",outcome="BACKEND_RESPONSE"}`;
    expect(seriesValue(text, ok)).toBe(0);
    expect(seriesValue(text, `rondo_gateway_request_duration_seconds_count{${LABELS}}`)).toBe(0);
    m.recordGatewayRequests([request(200, 10)]);
    m.expectTraffic(owner);
    ({ text } = await m.scrape());
    expect(seriesValue(text, ok)).toBe(1);
    expect(seriesValue(text, `rondo_gateway_request_duration_seconds_count{${LABELS}}`)).toBe(1);
  });
});
