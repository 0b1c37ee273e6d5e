import { homedir } from 'node:os';
import { join } from 'node:path';
import { type AlertSettings, loadAlertSettings } from './observability/alert-settings.js';
import { loadPlatformConfig, type PlatformConfig } from './platform-config.js';

/** Everything the control plane needs to start; read once from flags and the environment. */
export interface RondoConfig {
  host: string;
  port: number;
  dataDir: string;
  /** When set, the store is this PostgreSQL server instead of embedded PGlite. */
  databaseUrl?: string;
  /** Embedded PGlite on its own thread (default) or the server's (RONDO_PGLITE_THREAD=main, to compare). */
  pgliteThread?: 'worker' | 'main';
  /**
   * Embedded PGlite keeps runtime and gateway logs in a database of their own (`own`, the
   * default) or beside everything else (`shared`): RONDO_LOG_STORE. PostgreSQL always shares.
   */
  logStore?: 'own' | 'shared';
  /** The log database thread's nice value, 0–19 (RONDO_LOG_STORE_NICE, default 10). */
  logStoreNice?: number;
  bootstrapOrg: string;
  bootstrapToken?: string;
  logLevel: string;
  /** Where the master key lives (§5); default `<dataDir>/master.key`, generated at first start. */
  masterKeyFile?: string;
  /** The local platform (engine, gateway); absent when the control plane runs alone. */
  platform?: PlatformConfig;
  /** How Git providers reach this control plane (webhook URLs); default: the listening address. */
  publicUrl?: string;
  /** When a source address is refused (429) after failed authentications; default 10 per 60 s, 60 s. */
  authFailures?: AuthFailureLimits;
  /** Repository hosts may be link-local or metadata addresses (RONDO_ALLOW_LINK_LOCAL_REPOSITORIES). */
  allowLinkLocalRepositories?: boolean;
  /** Alert evaluation and notifications (SMTP through RONDO_SMTP_*). */
  alerts?: AlertSettings;
}

/** `maxFailures` failed authentications from one source within `windowSeconds` block it for `blockSeconds`. */
export interface AuthFailureLimits {
  /** 0 turns the limit off. */
  maxFailures: number;
  windowSeconds: number;
  blockSeconds: number;
}

export const DEFAULT_AUTH_FAILURE_LIMITS: AuthFailureLimits = {
  maxFailures: 10,
  windowSeconds: 60,
  blockSeconds: 60,
};

function wholeNumber(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0 || n > 1_000_000)
    throw new Error(`${name} must be a whole number 0-1000000, got '${raw}'`);
  return n;
}

function publicUrlOf(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new Error(
      `RONDO_PUBLIC_URL must be an http(s) URL such as https://rondo.example.com, got '${raw}'`,
    );
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new Error(`RONDO_PUBLIC_URL must be an http(s) URL, got '${raw}'`);
  return url.toString().replace(/\/+$/, '');
}

export const DEFAULT_PORT = 7070;

export function defaultDataDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.RONDO_DATA_DIR || join(homedir(), '.rondo', 'data');
}

/** Builds the config from flags (which win) and `RONDO_*` variables. */
export function loadConfig(
  flags: { port?: number; host?: string; dataDir?: string },
  env: NodeJS.ProcessEnv = process.env,
): RondoConfig {
  const port = flags.port ?? (env.RONDO_PORT ? Number(env.RONDO_PORT) : DEFAULT_PORT);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new Error(`port must be 0-65535, got '${env.RONDO_PORT ?? flags.port}'`);
  const config: RondoConfig = {
    // Loopback by default: workloads on Docker bridges can reach host listeners bound to 0.0.0.0.
    host: flags.host ?? env.RONDO_HOST ?? '127.0.0.1',
    port,
    dataDir: flags.dataDir ?? defaultDataDir(env),
    bootstrapOrg: env.RONDO_BOOTSTRAP_ORG || 'default',
    logLevel: env.RONDO_LOG_LEVEL || 'info',
  };
  const platform = loadPlatformConfig(config.dataDir, env);
  if (platform) config.platform = platform;
  if (env.RONDO_DATABASE_URL) config.databaseUrl = env.RONDO_DATABASE_URL;
  const thread = env.RONDO_PGLITE_THREAD;
  if (thread !== undefined && !['', 'worker', 'main'].includes(thread))
    throw new Error(`RONDO_PGLITE_THREAD must be worker or main, got '${thread}'`);
  if (thread === 'main') config.pgliteThread = 'main';
  const logStore = env.RONDO_LOG_STORE;
  if (logStore !== undefined && !['', 'own', 'shared'].includes(logStore))
    throw new Error(`RONDO_LOG_STORE must be own or shared, got '${logStore}'`);
  if (logStore === 'own' || logStore === 'shared') config.logStore = logStore;
  if (env.RONDO_LOG_STORE_NICE) {
    const nice = wholeNumber(env, 'RONDO_LOG_STORE_NICE', 10);
    if (nice > 19) throw new Error(`RONDO_LOG_STORE_NICE must be 0-19, got '${nice}'`);
    config.logStoreNice = nice;
  }
  if (env.RONDO_MASTER_KEY_FILE) config.masterKeyFile = env.RONDO_MASTER_KEY_FILE;
  if (env.RONDO_BOOTSTRAP_TOKEN) config.bootstrapToken = env.RONDO_BOOTSTRAP_TOKEN;
  if (env.RONDO_PUBLIC_URL) config.publicUrl = publicUrlOf(env.RONDO_PUBLIC_URL);
  const linkLocal = env.RONDO_ALLOW_LINK_LOCAL_REPOSITORIES;
  if (linkLocal !== undefined && !['', 'true', 'false'].includes(linkLocal))
    throw new Error(`RONDO_ALLOW_LINK_LOCAL_REPOSITORIES must be true or false, got '${linkLocal}'`);
  if (linkLocal === 'true') config.allowLinkLocalRepositories = true;
  config.alerts = loadAlertSettings(env);
  const limits = DEFAULT_AUTH_FAILURE_LIMITS;
  config.authFailures = {
    maxFailures: wholeNumber(env, 'RONDO_AUTH_MAX_FAILURES', limits.maxFailures),
    windowSeconds: wholeNumber(env, 'RONDO_AUTH_FAILURE_WINDOW_SECONDS', limits.windowSeconds),
    blockSeconds: wholeNumber(env, 'RONDO_AUTH_BLOCK_SECONDS', limits.blockSeconds),
  };
  return config;
}
