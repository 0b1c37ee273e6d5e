import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import type { Command } from 'commander';
import { defaultDataDir, loadConfig, type RondoConfig } from '../../config.js';
import { generateToken } from '../../control/tokens.js';
import { runDoctor } from '../../platform/doctor.js';
import { ensurePlatform, installMissing, stopPlatform } from '../../platform/local-platform.js';
import { runningPid, startProcess } from '../../platform/processes.js';
import { createRondo } from '../../server.js';
import { ApiClient } from '../client.js';
import { UsageError } from '../errors.js';
import { resolveConnection } from '../settings.js';
import { dataPlaneChecks } from './doctor-data-planes.js';
import { controlPlaneProcess, ensureSupervisor } from './supervise-actions.js';

export interface ServerFlags {
  port?: string;
  host?: string;
  dataDir?: string;
}

function parsePort(port: string | undefined): number | undefined {
  if (port === undefined) return undefined;
  const n = Number(port);
  if (!Number.isInteger(n) || n < 0 || n > 65535)
    throw new UsageError(`--port must be 0-65535 (got '${port}')`);
  return n;
}

export function flagsOf(o: ServerFlags) {
  const port = parsePort(o.port);
  return {
    ...(port === undefined ? {} : { port }),
    ...(o.host ? { host: o.host } : {}),
    ...(o.dataDir ? { dataDir: o.dataDir } : {}),
  };
}

/**
 * A long-running server trades a little speed for memory (docs/decisions.md, "Server memory"):
 * PGlite's WebAssembly is compiled once by the baseline compiler (Liftoff) and never re-optimised
 * (optimised, each PGlite costs ~60 MB more). Read when PGlite loads, so setting it here is enough.
 * V8's heap is no longer sized for footprint (`--optimize-for-size`): 6 MB more, for half the
 * full collections under log ingestion and a faster API (figures in docs/decisions.md).
 */
function embeddedStoreFlags(): void {
  setFlagsFromString('--liftoff-only');
}

/**
 * Node flags for the server process that only take effect at start: a small young generation
 * (2 MB semi-spaces instead of 16 MB) keeps the resident memory after a burst of requests ~10 MB
 * lower. `rondo up` and `bin/rondo` pass them.
 */
export const SERVER_NODE_FLAGS = ['--max-semi-space-size=2'] as const;

/** Runs the control plane in this process until SIGTERM/SIGINT, then shuts down gracefully. */
export async function runServer(o: ServerFlags): Promise<void> {
  const config = loadConfig(flagsOf(o));
  if (!config.databaseUrl) embeddedStoreFlags();
  // Read once, then drop it from the environment so nothing later can leak it.
  delete process.env.RONDO_BOOTSTRAP_TOKEN;
  const rondo = await createRondo(config);
  const url = await rondo.listen();
  // The token first: "ready" is the last line of start-up, so whoever waits for it has everything.
  if (rondo.bootstrapToken) {
    process.stdout.write(`\nAdmin token (shown once, store it now):\n\n  ${rondo.bootstrapToken}\n\n`);
    process.stdout.write(`Log in with:  echo <token> | rondo login --with-token --server ${url}\n\n`);
  }
  rondo.logger.info({ url, store: rondo.store.driver }, 'rondo control plane ready');
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    rondo.logger.info({ signal }, 'shutting down: finishing in-flight requests');
    await rondo.close();
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}

/** Starts the whole local platform in the background, waits until it answers, prints how to use it. */
export async function up(o: ServerFlags & { foreground?: boolean }): Promise<void> {
  const config = loadConfig(flagsOf(o));
  const url = `http://${config.host}:${config.port}`;
  if (config.platform) {
    installMissing();
    const started = await ensurePlatform(config, config.platform);
    if (started.length) process.stdout.write(`Started ${started.join(', ')}.\n`);
  }
  if (o.foreground) {
    // The control plane is the caller's supervisor's to restart; the platform's parts are ours.
    if (config.platform) await ensureSupervisor(config);
    return runServer(o);
  }
  const existing = runningPid(config.dataDir, 'rondo');
  if (existing) {
    await ensureSupervisor(config);
    process.stdout.write(`Rondo is already running (pid ${existing}).\n`);
    await printUrls(config, url);
    return;
  }
  const candidate = process.env.RONDO_BOOTSTRAP_TOKEN ?? generateToken();
  const pid = await startProcess(
    config.dataDir,
    controlPlaneProcess(config, { ...process.env, RONDO_BOOTSTRAP_TOKEN: candidate }),
  );
  // Restarts what dies from now on (docs/decisions.md, "Parts that die").
  await ensureSupervisor(config);
  process.stdout.write(`Rondo is up (pid ${pid}).\n`);
  await printUrls(config, url);
  // The candidate token is the admin's only when this start bootstrapped the store.
  const me = await fetch(`${url}/api/v1/me`, { headers: { authorization: `Bearer ${candidate}` } });
  if (me.ok && !process.env.RONDO_BOOTSTRAP_TOKEN) {
    process.stdout.write(`\nAdmin token (shown once, store it now):\n\n  ${candidate}\n\n`);
    process.stdout.write(`Log in:  echo <token> | rondo login --with-token --server ${url}\n`);
  } else if (!me.ok) {
    process.stdout.write(
      'The store was set up before; log in with the admin token printed then (rondo login --with-token).\n',
    );
  }
}

/** True when the control plane serves the web console at `/` (an HTML page, not the API's 401). */
async function consoleServed(url: string): Promise<boolean> {
  try {
    const res = await fetch(`${url}/`, { signal: AbortSignal.timeout(2000) });
    await res.body?.cancel();
    return res.ok && (res.headers.get('content-type') ?? '').startsWith('text/html');
  } catch {
    return false;
  }
}

/** What exists and where: only parts that answer are promised (no console line until one is served). */
async function printUrls(config: RondoConfig, url: string): Promise<void> {
  const lines: [string, string][] = [['API', `${url}/api/v1`]];
  if (await consoleServed(url)) lines.push(['Console', `${url}/`]);
  if (config.platform) {
    const g = config.platform.gateway;
    lines.push([
      'Gateway',
      `http://<env>.${g.baseDomain}:${g.publicPort}/<org>/<project>/<component>/<endpoint>/`,
    ]);
    const pull = config.platform.registryPull;
    lines.push([
      'Registry',
      pull ? `${config.platform.registry} (clusters pull at ${pull.listen})` : config.platform.registry,
    ]);
  }
  lines.push(['Logs', join(config.dataDir, 'logs')]);
  for (const [what, where] of lines) process.stdout.write(`${`${what}:`.padEnd(10)}${where}\n`);
}

export async function down(o: { dataDir?: string }): Promise<void> {
  const stopped = await stopPlatform(o.dataDir ?? defaultDataDir());
  process.stdout.write(stopped.length ? `Stopped ${stopped.join(', ')}.\n` : 'Rondo is not running.\n');
}

export async function doctor(o: ServerFlags, cmd: Command): Promise<void> {
  const config = loadConfig(flagsOf(o));
  const checks = await runDoctor(config);
  // Each data plane through the API this machine serves (or --server), as the stored login.
  const g = cmd.optsWithGlobals<{ output?: string; server?: string; org?: string }>();
  const conn = resolveConnection({
    server: g.server ?? `http://${config.host}:${config.port}`,
    ...(g.org ? { org: g.org } : {}),
  });
  const apiUp = checks.find((c) => c.name === 'control plane')?.ok ?? false;
  checks.push(...(await dataPlaneChecks(new ApiClient(conn), apiUp || g.server !== undefined, !!conn.token)));
  if (g.output === 'json') {
    process.stdout.write(`${JSON.stringify(checks, null, 2)}\n`);
  } else {
    for (const c of checks)
      process.stdout.write(
        `${c.skipped ? 'skip' : c.ok ? 'ok  ' : 'FAIL'}  ${c.name.padEnd(18)} ${c.detail}${c.ok || !c.fix ? '' : `\n      fix: ${c.fix}`}\n`,
      );
  }
  if (checks.some((c) => !c.ok)) process.exitCode = 1;
}
