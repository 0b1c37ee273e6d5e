import { homedir } from 'node:os';
import { join } from 'node:path';
import { loadPlatformConfig, type PlatformConfig } from './platform-config.js';

/** Everything the control plane needs to start; read once from flags and the environment. */
export interface RondoConfig {
  host: string;
  port: number;
  dataDir: string;
  /** When set, the store is this PostgreSQL server instead of embedded PGlite. */
  databaseUrl?: string;
  bootstrapOrg: string;
  bootstrapToken?: string;
  logLevel: string;
  /** Where the master key lives (§5); default `<dataDir>/master.key`, generated at first start. */
  masterKeyFile?: string;
  /** The local platform (engine, gateway); absent when the control plane runs alone. */
  platform?: PlatformConfig;
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
  if (env.RONDO_MASTER_KEY_FILE) config.masterKeyFile = env.RONDO_MASTER_KEY_FILE;
  if (env.RONDO_BOOTSTRAP_TOKEN) config.bootstrapToken = env.RONDO_BOOTSTRAP_TOKEN;
  return config;
}
