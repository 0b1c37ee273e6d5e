import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Logger } from 'pino';
import type { GatewayState, InternalGateway } from '../domain/gateway-routes.js';
import { type HaproxyConfig, type HaproxySettings, haproxyConfig } from './haproxy-config.js';
import { HaproxyControl, runtimeCommand } from './haproxy-control.js';

/** Where this host's gateway listens, logs and keeps its files; fixed for the life of an installation. */
export interface HostGatewaySettings {
  /** `haproxy.cfg`, its maps, the runtime socket (`runtime.sock`) and the master's (`master.sock`). */
  dir: string;
  /** `host:port` or `:port` of the public listener. */
  publicListen: string;
  /** `host:port` of the gateway's Prometheus exporter (`/metrics`). */
  metricsListen: string;
  /** Where HAProxy's standard output (the JSON access log) goes: whoever starts it sends it there. */
  accessLogPath: string;
  bodyLimitBytes: number;
}

export const masterSocket = (settings: Pick<HostGatewaySettings, 'dir'>) => join(settings.dir, 'master.sock');

/** HAProxy's settings for this host's gateway: internal listeners on every interface (workloads reach them on their bridge's address). */
export function haproxySettings(settings: HostGatewaySettings): HaproxySettings {
  return {
    publicListen: settings.publicListen,
    internalBindAddress: '',
    runtimeSocket: join(settings.dir, 'runtime.sock'),
    configDir: settings.dir,
    bodyLimitBytes: settings.bodyLimitBytes,
    metricsListen: settings.metricsListen,
  };
}

/** What the gateway runs before the control plane has loaded anything: no route (every address 404). */
export function startupConfig(settings: HostGatewaySettings): HaproxyConfig {
  return haproxyConfig(
    { publicGateway: { environments: [], webApps: [] }, internal: [] },
    haproxySettings(settings),
  );
}

const configPath = (settings: HostGatewaySettings) => join(settings.dir, 'haproxy.cfg');

/** The command line that starts this host's gateway (`rondo up`, its supervisor, the tests). */
export function gatewayCommand(settings: HostGatewaySettings): { command: string; args: string[] } {
  return {
    command: 'haproxy',
    args: ['-W', '-S', `${masterSocket(settings)},mode,600`, '-f', configPath(settings)],
  };
}

/** Writes the start-up configuration (no route), replacing whatever configuration is there. */
export function writeStartupConfig(settings: HostGatewaySettings): void {
  const s = haproxySettings(settings);
  new HaproxyControl({ settings: s, masterSocket: masterSocket(settings), errorLogPath: '' }).write(
    startupConfig(settings),
  );
}

/**
 * Readies the gateway's directory for a start: the configuration last loaded stays when HAProxy
 * accepts it, so a restarted gateway serves every route at once (the control plane's watch finds
 * it holds what was last loaded); else the start-up one, for the control plane to fill.
 */
export function prepareGatewayStart(settings: HostGatewaySettings): void {
  mkdirSync(settings.dir, { recursive: true });
  mkdirSync(dirname(settings.accessLogPath), { recursive: true });
  if (existsSync(configPath(settings))) {
    try {
      execFileSync('haproxy', ['-c', '-q', '-f', configPath(settings)], { stdio: 'ignore' });
      return;
    } catch {
      // A configuration HAProxy no longer accepts (a file it names is gone): start empty.
    }
  }
  writeStartupConfig(settings);
}

/** True when the gateway's runtime API answers (HAProxy runs a worker). */
export async function gatewayAnswers(settings: HostGatewaySettings): Promise<boolean> {
  try {
    const out = await runtimeCommand(
      haproxySettings(settings).runtimeSocket,
      'show env RONDO_CONFIG_ID',
      1000,
    );
    return out.includes('RONDO_CONFIG_ID=');
  } catch {
    return false;
  }
}

/**
 * The gateway on this host (HAProxy, docs/decisions.md G7), which every Docker data plane's
 * traffic port publishes to: each data plane hands over its own part, and the gateway loads all
 * parts merged as one configuration. What is HAProxy-specific stays in `src/gateway`, so the
 * gateway can be swapped without touching a driver.
 */
export class HostGateway {
  readonly #control: HaproxyControl;
  readonly #settings: HaproxySettings;
  readonly #log: Logger;
  readonly #parts = new Map<string, GatewayState>();
  #running: Promise<void> = Promise.resolve();

  constructor(settings: HostGatewaySettings, log: Logger) {
    this.#settings = haproxySettings(settings);
    this.#control = new HaproxyControl({
      settings: this.#settings,
      masterSocket: masterSocket(settings),
      errorLogPath: 'the gateway log (logs/gateway.log under the data directory)',
    });
    this.#log = log.child({ part: 'gateway' });
  }

  /** Replaces one data plane's part and loads the whole; serialized, so the last publish wins. */
  apply(dataPlaneId: string, part: GatewayState): Promise<void> {
    const next = this.#running
      .catch(() => undefined)
      .then(async () => {
        this.#parts.set(dataPlaneId, part);
        const merged = mergeParts([...this.#parts.values()]);
        if (await this.#control.load(haproxyConfig(merged, this.#settings)))
          this.#log.debug({ hosts: merged.publicGateway.environments.length }, 'gateway routes loaded');
      });
    this.#running = next;
    return next;
  }

  /** Whether the gateway still runs what was last loaded (false after it restarted with its start-up configuration). */
  holdsLastLoaded(): Promise<boolean> {
    return this.#control.holdsLastLoaded();
  }
}

/** One configuration from every data plane's part: hosts and organization gateways shared by key. */
export function mergeParts(parts: GatewayState[]): GatewayState {
  const hosts = new Map<string, GatewayState['publicGateway']['environments'][number]>();
  const internal = new Map<string, InternalGateway>();
  const webApps: GatewayState['publicGateway']['webApps'] = [];
  for (const part of parts) {
    for (const env of part.publicGateway.environments) {
      const known = hosts.get(env.host);
      if (known) known.routes = [...known.routes, ...env.routes];
      else hosts.set(env.host, { host: env.host, routes: [...env.routes] });
    }
    webApps.push(...part.publicGateway.webApps);
    for (const gw of part.internal) {
      const known = internal.get(gw.environment);
      if (known) {
        known.routes = [...known.routes, ...gw.routes];
        known.allowedCidrs = [...new Set([...known.allowedCidrs, ...gw.allowedCidrs])].sort();
      } else internal.set(gw.environment, { ...gw, routes: [...gw.routes] });
    }
  }
  return { publicGateway: { environments: [...hosts.values()], webApps }, internal: [...internal.values()] };
}
