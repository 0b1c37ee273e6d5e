/**
 * One request the gateway answered, attributed to the component and environment it was routed to.
 * The access-log collector produces these (whatever proxy is behind the gateway); the metrics
 * exporter and the access-log store consume them, so a gateway swap changes only the producer.
 */
export interface GatewayRequest {
  at: Date;
  orgId: string;
  projectId: string;
  componentId: string;
  environmentId: string;
  /** The deployment whose replicas answered, when the gateway knows it. */
  deploymentId: string | null;
  method: string;
  path: string;
  status: number;
  /** The gateway outcome code of §7 (BACKEND_RESPONSE, NO_HEALTHY_BACKEND, RATE_LIMITED, …). */
  outcome: string;
  durationMs: number;
  bytes: number;
  requestId: string;
}

/** Where collected gateway requests go; the composition root fans them out. */
export type GatewayRequestSink = (requests: readonly GatewayRequest[]) => void;
