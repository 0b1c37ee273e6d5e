import { z } from 'zod';

/** Choreo's alert kinds (choreo-docs §7), in Rondo's words. */
export const ALERT_KINDS = [
  'latency',
  'traffic',
  'resource',
  'log',
  'build-failure',
  'status-code',
  'system',
] as const;
export type AlertKind = (typeof ALERT_KINDS)[number];

/**
 * Kinds Rondo evaluates itself: Prometheus cannot see log lines, builds or replica events, nor
 * exact status codes (its series count status classes, to keep label cardinality bounded).
 */
export const RONDO_EVALUATED: readonly AlertKind[] = ['log', 'build-failure', 'system', 'status-code'];

/** Choreo's limits: 10 rules per component, 5 email addresses per rule. */
export const MAX_RULES_PER_COMPONENT = 10;
export const MAX_EMAILS = 5;

const minutes = (max: number) => z.number().int().min(1).max(max);

/** What each kind needs; defaults are what Choreo's form offers first. */
export const ALERT_PARAMS = {
  latency: z.strictObject({
    percentile: z.union([z.literal(50), z.literal(90), z.literal(95), z.literal(99)]).default(99),
    thresholdMs: z.number().int().min(1).max(600_000),
    periodMinutes: minutes(1440).default(5),
  }),
  traffic: z.strictObject({
    requestsPerMinute: z.number().min(0.01).max(10_000_000),
    periodMinutes: minutes(1440).default(5),
  }),
  resource: z.strictObject({
    resource: z.enum(['cpu', 'memory']),
    /** Millicores for cpu, MiB for memory. */
    threshold: z.number().min(1).max(1_000_000),
    periodMinutes: minutes(1440).default(5),
  }),
  log: z.strictObject({
    phrase: z.string().min(1).max(200),
    count: z.number().int().min(1).max(1_000_000).default(1),
    intervalMinutes: minutes(1440).default(5),
  }),
  'build-failure': z.strictObject({}),
  'status-code': z.strictObject({
    codes: z.array(z.number().int().min(100).max(599)).min(1).max(20),
    count: z.number().int().min(1).max(1_000_000),
    intervalMinutes: minutes(1440).default(5),
  }),
  system: z.strictObject({
    events: z
      .array(z.enum(['crash', 'oom']))
      .min(1)
      .default(['crash', 'oom']),
    /** Fired while such an event happened within this many minutes. */
    periodMinutes: minutes(1440).default(5),
  }),
} as const satisfies Record<AlertKind, z.ZodType>;

export type AlertParams<K extends AlertKind> = z.output<(typeof ALERT_PARAMS)[K]>;

/** A webhook target: http(s) only, and no credentials in it (the signature authenticates). */
export function webhookUrlProblem(raw: string): string | undefined {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return 'is not a URL; give an http(s) URL such as https://hooks.example.com/rondo';
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    return `must be an http(s) URL, not ${url.protocol.replace(':', '')}`;
  if (url.username || url.password)
    return 'must not carry credentials; the receiver checks the signature header instead';
  return undefined;
}
