import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import { isGatewayOutcome } from '../../domain/gateway-outcomes.js';
import type { GatewayRequest, GatewayRequestSink } from '../gateway-requests.js';

/**
 * The labels of every per-component series: ids, not names, so a component deleted and created
 * again under its old name starts new series. Their number is bounded by the components and
 * environments that exist; nothing per request (path, request id, status code) is a label.
 */
export const COMPONENT_LABELS = ['org_id', 'project_id', 'component_id', 'environment_id'] as const;
type ComponentLabel = (typeof COMPONENT_LABELS)[number];
export type ComponentLabels = Record<ComponentLabel, string>;

/** Replica series add the deployment and the replica's number: bounded by the replicas running now. */
const REPLICA_LABELS = [...COMPONENT_LABELS, 'deployment_id', 'replica'] as const;
export type ReplicaLabels = Record<(typeof REPLICA_LABELS)[number], string>;

/**
 * Latency buckets in seconds: dense from 5 ms to 1 s, where services answer, so p50/p95/p99
 * interpolated by `histogram_quantile` land within one narrow bucket; coarse up to 30 s.
 */
export const LATENCY_BUCKETS = [
  0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1, 1.5, 2, 3, 5, 10, 30,
];
/** Task runs last seconds to hours. */
export const EXECUTION_BUCKETS = [1, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 7200, 21_600];

/**
 * One reading of a replica, with the labels it is reported under. CPU is a counter
 * (`cpuSeconds`) where the data plane keeps one, else a rate (`cpuMillicores`).
 */
export interface ReplicaSample {
  labels: ReplicaLabels;
  cpuSeconds?: number;
  cpuMillicores?: number;
  memoryBytes: number;
  restarts: number;
}

/**
 * Rondo's `/metrics`: the control plane's own process series (Node's defaults) and the
 * per-component series Prometheus stores for the metrics API (docs/observability.md).
 */
export class RondoMetrics {
  readonly registry = new Registry();
  #replicas: ReplicaSample[] = [];

  readonly gatewayRequests = new Counter({
    name: 'rondo_gateway_requests_total',
    help: 'Requests the gateway answered for a component, by status class and gateway outcome.',
    labelNames: [...COMPONENT_LABELS, 'status_class', 'outcome'],
    registers: [this.registry],
  });
  readonly gatewayDuration = new Histogram({
    name: 'rondo_gateway_request_duration_seconds',
    help: 'Time the gateway took to answer a request for a component.',
    labelNames: COMPONENT_LABELS,
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });
  readonly executions = new Counter({
    name: 'rondo_task_executions_total',
    help: 'Task executions that ended (or were skipped or missed), by status.',
    labelNames: [...COMPONENT_LABELS, 'status'],
    registers: [this.registry],
  });
  readonly executionDuration = new Histogram({
    name: 'rondo_task_execution_duration_seconds',
    help: 'How long ended task executions ran.',
    labelNames: COMPONENT_LABELS,
    buckets: EXECUTION_BUCKETS,
    registers: [this.registry],
  });
  readonly oomKills = new Counter({
    name: 'rondo_replica_oom_kills_total',
    help: 'Replicas the kernel killed for exceeding their memory limit.',
    labelNames: COMPONENT_LABELS,
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry });
    const replicas = () => this.#replicas;
    // Replica series are set from the last sample at each scrape, so replicas that are gone vanish.
    new Counter({
      name: 'rondo_replica_cpu_seconds_total',
      help: 'CPU time a replica used since it started; its rate × 1000 is millicores.',
      labelNames: REPLICA_LABELS,
      registers: [this.registry],
      collect() {
        this.reset();
        for (const r of replicas()) if (r.cpuSeconds !== undefined) this.inc(r.labels, r.cpuSeconds);
      },
    });
    // Where the data plane gives only a rate (Kubernetes' metrics API): the figure itself.
    new Gauge({
      name: 'rondo_replica_cpu_millicores',
      help: 'CPU a replica uses, where its data plane reports a rate rather than a counter.',
      labelNames: REPLICA_LABELS,
      registers: [this.registry],
      collect() {
        this.reset();
        for (const r of replicas())
          if (r.cpuSeconds === undefined && r.cpuMillicores !== undefined)
            this.set(r.labels, r.cpuMillicores);
      },
    });
    new Gauge({
      name: 'rondo_replica_memory_bytes',
      help: 'Memory a replica uses, without page cache the kernel can drop.',
      labelNames: REPLICA_LABELS,
      registers: [this.registry],
      collect() {
        this.reset();
        for (const r of replicas()) this.set(r.labels, r.memoryBytes);
      },
    });
    new Counter({
      name: 'rondo_replica_restarts_total',
      help: 'Restarts of a replica by its restart policy since it was created.',
      labelNames: REPLICA_LABELS,
      registers: [this.registry],
      collect() {
        this.reset();
        for (const r of replicas()) this.inc(r.labels, r.restarts);
      },
    });
  }

  /** Components whose gateway series exist (at zero or counted). */
  readonly #known = new Set<string>();

  /**
   * Creates a running component's gateway series at zero before its first request: Prometheus'
   * `rate` and `increase` cannot count what a series held when it first appeared, so without this
   * the requests of its first scrape would be missing from every figure.
   */
  expectTraffic(owner: ComponentLabels): void {
    const key = keyOf(owner);
    if (this.#known.has(key)) return;
    this.#known.add(key);
    for (const status_class of ['2xx', '4xx', '5xx'])
      this.gatewayRequests.inc({ ...owner, status_class, outcome: 'BACKEND_RESPONSE' }, 0);
    this.gatewayDuration.zero(owner);
  }

  /** Replaces the replica readings the next scrape reports. */
  setReplicas(samples: ReplicaSample[]): void {
    this.#replicas = samples;
  }

  /** The gateway side: where the access-log collector hands what it collected. */
  readonly recordGatewayRequests: GatewayRequestSink = (requests) => {
    for (const r of requests) {
      const labels = componentLabelsOf(r);
      this.#known.add(keyOf(labels));
      this.gatewayRequests.inc({ ...labels, status_class: statusClass(r.status), outcome: outcomeOf(r) });
      this.gatewayDuration.observe(labels, Math.max(0, r.durationMs) / 1000);
    }
  };

  /** The exposition text and its content type. */
  async scrape(): Promise<{ contentType: string; text: string }> {
    return { contentType: this.registry.contentType, text: await this.registry.metrics() };
  }
}

function componentLabelsOf(r: GatewayRequest): ComponentLabels {
  return {
    org_id: r.orgId,
    project_id: r.projectId,
    component_id: r.componentId,
    environment_id: r.environmentId,
  };
}

const keyOf = (o: ComponentLabels) => `${o.component_id}/${o.environment_id}`;

/** `2xx`…`5xx`; anything outside 100–599 is `other`. */
export function statusClass(status: number): string {
  return Number.isInteger(status) && status >= 100 && status <= 599
    ? `${Math.floor(status / 100)}xx`
    : 'other';
}

function outcomeOf(r: GatewayRequest): string {
  return isGatewayOutcome(r.outcome) ? r.outcome : 'OTHER';
}
