import { RondoError } from '../domain/errors.js';

/** Caddy's admin API (loopback only): the one way Rondo changes the gateway. */
export class CaddyAdmin {
  readonly #base: string;
  #lastLoaded: string | undefined;

  constructor(adminListen: string) {
    this.#base = `http://${adminListen}`;
  }

  async #fetch(path: string, init?: RequestInit): Promise<Response> {
    try {
      return await fetch(`${this.#base}${path}`, init);
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

  /** Replaces the whole configuration in one step (Caddy swaps it gracefully); skips an unchanged one. */
  async load(config: unknown): Promise<boolean> {
    const body = JSON.stringify(config);
    if (body === this.#lastLoaded) return false;
    const res = await this.#fetch('/load', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
    });
    if (!res.ok)
      throw new Error(
        `the gateway refused its configuration (${res.status}): ${(await res.text()).slice(0, 500)}`,
      );
    this.#lastLoaded = body;
    return true;
  }
}
