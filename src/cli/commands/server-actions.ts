import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { bootstrapDebian, bootstrapStack, DEBIAN_STACKS } from '../../build/bootstrap-debian.js';
import { bootstrapStaticImage, recordBaseImages } from '../../build/bootstrap-images.js';
import { DEFAULT_BASE_IMAGES } from '../../build/presets.js';
import { defaultDataDir, loadConfig, type RondoConfig } from '../../config.js';
import { generateToken } from '../../control/tokens.js';
import { DockerImages } from '../../dataplane/docker/docker-images.js';
import { runDoctor } from '../../platform/doctor.js';
import { ensurePlatform, installMissing, stopPlatform } from '../../platform/local-platform.js';
import { httpAnswers, runningPid, startProcess } from '../../platform/processes.js';
import { createRondo } from '../../server.js';
import { UsageError } from '../errors.js';

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

function flagsOf(o: ServerFlags) {
  const port = parsePort(o.port);
  return {
    ...(port === undefined ? {} : { port }),
    ...(o.host ? { host: o.host } : {}),
    ...(o.dataDir ? { dataDir: o.dataDir } : {}),
  };
}

/** Runs the control plane in this process until SIGTERM/SIGINT, then shuts down gracefully. */
export async function runServer(o: ServerFlags): Promise<void> {
  const config = loadConfig(flagsOf(o));
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
  if (o.foreground) return runServer(o);
  const existing = runningPid(config.dataDir, 'rondo');
  if (existing) {
    process.stdout.write(`Rondo is already running (pid ${existing}).\n`);
    printUrls(config, url);
    return;
  }
  const candidate = process.env.RONDO_BOOTSTRAP_TOKEN ?? generateToken();
  const main = fileURLToPath(new URL('../main.js', import.meta.url));
  const pid = await startProcess(config.dataDir, {
    name: 'rondo',
    command: process.execPath,
    args: [
      main,
      'server',
      '--port',
      String(config.port),
      '--host',
      config.host,
      '--data-dir',
      config.dataDir,
    ],
    env: { ...process.env, RONDO_BOOTSTRAP_TOKEN: candidate },
    ready: () => httpAnswers(`${url}/api/v1/healthz`),
  });
  process.stdout.write(`Rondo is up (pid ${pid}).\n`);
  printUrls(config, url);
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

function printUrls(config: RondoConfig, url: string): void {
  process.stdout.write(`API and console: ${url}\nLogs:            ${join(config.dataDir, 'logs')}\n`);
  if (config.platform) {
    const g = config.platform.gateway;
    process.stdout.write(
      `Gateway:         http://<env>.${g.baseDomain}:${g.publicPort}/<org>/<project>/<component>/<endpoint>/\n`,
    );
    process.stdout.write(`Registry:        ${config.platform.registry}\n`);
  }
}

export async function down(o: { dataDir?: string }): Promise<void> {
  const stopped = await stopPlatform(o.dataDir ?? defaultDataDir());
  process.stdout.write(stopped.length ? `Stopped ${stopped.join(', ')}.\n` : 'Rondo is not running.\n');
}

export async function doctor(o: ServerFlags, cmd: Command): Promise<void> {
  const checks = await runDoctor(loadConfig(flagsOf(o)));
  if (cmd.optsWithGlobals<{ output?: string }>().output === 'json') {
    process.stdout.write(`${JSON.stringify(checks, null, 2)}\n`);
  } else {
    for (const c of checks)
      process.stdout.write(
        `${c.ok ? 'ok  ' : 'FAIL'}  ${c.name.padEnd(18)} ${c.detail}${c.ok || !c.fix ? '' : `\n      fix: ${c.fix}`}\n`,
      );
  }
  if (checks.some((c) => !c.ok)) process.exitCode = 1;
}

/** `rondo images bootstrap`: base images from the OS's packages, pushed to the platform registry. */
export async function bootstrapImages(
  o: ServerFlags & { stacks?: string; mirror?: string; ifMissing?: boolean },
): Promise<void> {
  const config = loadConfig(flagsOf(o));
  if (!config.platform) throw new UsageError('images need the platform; unset RONDO_PLATFORM=off');
  if (o.ifMissing) {
    const site = existsSync(join(config.dataDir, 'images.json'));
    // A site that reaches the official images (or already bootstrapped) has nothing to do.
    if (site) return void process.stderr.write('Base images are recorded in images.json; nothing to do.\n');
    const probe = new DockerImages(config.platform.dockerSocket);
    const reachable = await Promise.race([
      probe
        .ensure(DEFAULT_BASE_IMAGES.static!['2']!, () => undefined)
        .then(
          () => true,
          () => false,
        ),
      new Promise<boolean>((r) => setTimeout(() => r(false), 15_000).unref()),
    ]);
    if (reachable)
      return void process.stderr.write('The official base images are reachable; nothing to do.\n');
    process.stderr.write(
      'No configured base image is reachable: building them from Debian packages (a few minutes, once).\n',
    );
  }
  const stacks = (o.stacks ?? Object.keys(DEBIAN_STACKS).join(','))
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const s of stacks)
    if (!DEBIAN_STACKS[s])
      throw new UsageError(`--stacks: no stack '${s}' (known: ${Object.keys(DEBIAN_STACKS).join(', ')})`);
  const images = new DockerImages(config.platform.dockerSocket);
  const registry = config.platform.registry;
  const log = (line: string) => process.stderr.write(`${line}\n`);
  const file = join(config.dataDir, 'images.json');
  const staticRef = await bootstrapStaticImage(images, registry, log);
  recordBaseImages(file, { static: { '2': staticRef } });
  process.stdout.write(`static 2 → ${staticRef}\n`);
  if (stacks.length === 0) return;
  const debian = await bootstrapDebian(images, registry, o.mirror ?? 'http://deb.debian.org/debian', log);
  process.stdout.write(`debian 12 → ${debian}\n`);
  for (const stack of stacks) {
    const recorded = await bootstrapStack(images, registry, debian, stack, log);
    recordBaseImages(file, recorded);
    for (const [version, ref] of Object.entries(recorded[stack] ?? {}))
      process.stdout.write(`${stack} ${version} → ${ref}\n`);
  }
  process.stdout.write(`Recorded in ${file}.\n`);
}
