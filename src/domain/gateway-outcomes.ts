/** §7's gateway outcome codes: what the gateway answered with, in its access log and its metrics. */
export const GATEWAY_OUTCOMES = [
  'BACKEND_RESPONSE',
  'CORS_RESPONSE',
  'AUTH_FAILURE',
  'NO_HEALTHY_BACKEND',
  'RATE_LIMITED',
  'RESOURCE_NOT_FOUND',
  'BACKEND_TIMEOUT',
  'GATEWAY_ERROR',
  'REQUEST_TOO_LARGE',
] as const;

export type GatewayOutcome = (typeof GATEWAY_OUTCOMES)[number];

const KNOWN: ReadonlySet<string> = new Set(GATEWAY_OUTCOMES);

export const isGatewayOutcome = (code: string): code is GatewayOutcome => KNOWN.has(code);
