import type { Logger } from 'pino';
import type { GatewayState, InternalGateway } from '../domain/gateway-routes.js';
import type { CaddyAdmin } from './caddy-admin.js';
import { type CaddySettings, caddyConfig } from './caddy-config.js';

/**
 * The gateway on this host (Caddy), which every Docker data plane's traffic port publishes to:
 * each data plane hands over its own part, and the gateway loads all parts merged as one
 * configuration. What is Caddy-specific stays here and in `caddy-config.ts`, so the gateway can
 * be swapped (G7) without touching a driver.
 */
export class HostGateway {
  readonly #admin: CaddyAdmin;
  readonly #settings: CaddySettings;
  readonly #log: Logger;
  readonly #parts = new Map<string, GatewayState>();
  #running: Promise<void> = Promise.resolve();

  constructor(admin: CaddyAdmin, settings: CaddySettings, log: Logger) {
    this.#admin = admin;
    this.#settings = settings;
    this.#log = log.child({ part: 'gateway' });
  }

  /** Replaces one data plane's part and loads the whole; serialized, so the last publish wins. */
  apply(dataPlaneId: string, part: GatewayState): Promise<void> {
    const next = this.#running
      .catch(() => undefined)
      .then(async () => {
        this.#parts.set(dataPlaneId, part);
        const merged = mergeParts([...this.#parts.values()]);
        if (await this.#admin.load(caddyConfig(merged, this.#settings)))
          this.#log.debug({ hosts: merged.publicGateway.environments.length }, 'gateway routes loaded');
      });
    this.#running = next;
    return next;
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
