/** Where Prometheus runs and how long it keeps samples (issue G3, docs/observability.md). */
export interface MetricsSettings {
  /** Prometheus' loopback `host:port` (`RONDO_METRICS_LISTEN`, default 127.0.0.1:7074). */
  listen: string;
  /** Prometheus' `--storage.tsdb.retention.time`, as given: `15d`, `6w`, `48h`. */
  retention: string;
  /** The same retention in seconds: the API refuses ranges that reach further back. */
  retentionSeconds: number;
  /** How often Prometheus scrapes Rondo and the gateway. */
  scrapeIntervalSeconds: number;
  /** How often the control plane samples replicas and the store for its series (tests shorten it). */
  sampleMs?: number;
}

const UNIT_SECONDS: Record<string, number> = { h: 3600, d: 86_400, w: 604_800 };
const MIN_RETENTION_SECONDS = 3600;
const MAX_RETENTION_SECONDS = 5 * 365 * 86_400;

/** `15d` → seconds, or an Error naming the setting and what it takes. */
export function parseRetention(raw: string, what = 'RONDO_METRICS_RETENTION'): number {
  const m = /^(\d{1,5})([hdw])$/.exec(raw);
  const seconds = m ? Number(m[1]) * (UNIT_SECONDS[m[2]!] ?? 0) : Number.NaN;
  if (!(seconds >= MIN_RETENTION_SECONDS && seconds <= MAX_RETENTION_SECONDS))
    throw new Error(
      `${what} must be hours, days or weeks between 1h and 5 years, such as 15d, 6w or 48h; got '${raw}'`,
    );
  return seconds;
}

/**
 * Scrapes every 5 s: a service's error burst or a latency step shows within seconds on the console
 * and in alerts, and the API's rates need two samples per window, so even a 1-minute step has 12.
 * A sample is a few dozen bytes per series; 5 s costs about 17 MB per 1,000 series per 15 days
 * on disk (Prometheus compresses to ~1.3 bytes per sample).
 */
export const SCRAPE_INTERVAL_SECONDS = 5;

export function loadMetricsSettings(env: NodeJS.ProcessEnv = process.env): MetricsSettings {
  const retention = env.RONDO_METRICS_RETENTION || '15d';
  const listen = env.RONDO_METRICS_LISTEN || '127.0.0.1:7074';
  if (!/^(127\.\d{1,3}\.\d{1,3}\.\d{1,3}|localhost|\[::1\]):\d{1,5}$/.test(listen))
    throw new Error(
      `RONDO_METRICS_LISTEN must be a loopback host:port such as 127.0.0.1:7074; got '${listen}'`,
    );
  return {
    listen,
    retention,
    retentionSeconds: parseRetention(retention),
    scrapeIntervalSeconds: SCRAPE_INTERVAL_SECONDS,
  };
}
