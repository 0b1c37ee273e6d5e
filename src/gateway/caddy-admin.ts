import { createHash } from 'node:crypto';
import { RondoError } from '../domain/errors.js';

/** A Caddy JSON configuration as Rondo writes it (an `admin` object and the apps). */
export type CaddyJson = Record<string, unknown>;

/**
 * The identity of a configuration: a hash of it, which the loaded configuration carries as the
 * `@id` of its `admin` object. Caddy keeps `@id`s (and saves them with the configuration it
 * resumes), so `GET /id/<identity>` answers 200 exactly when Caddy runs this configuration.
 */
export function configIdentity(config: CaddyJson): string {
  return `rondo-${createHash('sha256').update(JSON.stringify(config)).digest('hex').slice(0, 32)}`;
}

/** Caddy's admin API (loopback only): the one way Rondo changes the gateway. */
export class CaddyAdmin {
  readonly #base: string;
  /** The identity of the last configuration this process loaded. */
  #lastLoaded: string | undefined;

  constructor(adminListen: string) {
    this.#base = `http://${adminListen}`;
  }

  async #fetch(path: string, init?: RequestInit): Promise<Response> {
    try {
      return await fetch(`${this.#base}${path}`, { signal: AbortSignal.timeout(10_000), ...init });
    } catch (err) {
      throw new RondoError(
        'RONDO_ERR_UNAVAILABLE',
        `the gateway's admin API at ${this.#base} does not answer; start Caddy (rondo up)`,
        { cause: err },
      );
    }
  }

  async ping(): Promise<void> {
    const res = await this.#fetch('/config/');
    if (!res.ok)
      throw new RondoError('RONDO_ERR_UNAVAILABLE', `the gateway's admin API answered ${res.status}`);
  }

  /** Whether Caddy runs the configuration with this identity (not merely what was last sent). */
  async holds(identity: string): Promise<boolean> {
    const res = await this.#fetch(`/id/${identity}`);
    await res.body?.cancel();
    return res.ok;
  }

  /**
   * Whether Caddy still runs the last configuration this process loaded; false after a restart
   * of Caddy with another configuration (its admin-only start-up one) or a load by someone else.
   */
  async holdsLastLoaded(): Promise<boolean> {
    return this.#lastLoaded === undefined || this.holds(this.#lastLoaded);
  }

  /**
   * Replaces the whole configuration in one step (Caddy swaps it gracefully), unless Caddy already
   * runs it: a load restarts Caddy's listeners, which resets a few connections, so a control plane
   * that restarts, or a periodic sync, must not reload what is already there.
   */
  async load(config: CaddyJson): Promise<boolean> {
    const identity = configIdentity(config);
    if (await this.holds(identity)) {
      this.#lastLoaded = identity;
      return false;
    }
    const admin = typeof config.admin === 'object' && config.admin !== null ? config.admin : {};
    const res = await this.#fetch('/load', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ ...config, admin: { ...admin, '@id': identity } }),
    });
    if (!res.ok)
      throw new Error(
        `the gateway refused its configuration (${res.status}): ${(await res.text()).slice(0, 500)}`,
      );
    this.#lastLoaded = identity;
    return true;
  }
}
