import type { Logger } from 'pino';
import type { CaddyAdmin } from '../gateway/caddy-admin.js';
import type { GatewaySync } from './gateway-sync.js';

/**
 * Restores the routes as soon as Caddy no longer runs the configuration last loaded: a Caddy that
 * died and was started again (by `rondo up`'s supervisor, or by hand) comes back with another
 * configuration, and the periodic resync alone would leave it without routes for up to a period.
 * One small admin request (`GET /id/<identity>`) per interval.
 */
export class GatewayWatch {
  readonly #admin: CaddyAdmin;
  readonly #gateway: GatewaySync;
  readonly #log: Logger;
  readonly #intervalMs: number;
  #timer: NodeJS.Timeout | undefined;
  #check: Promise<void> = Promise.resolve();
  /** Whether the last check found Caddy unreachable, so the log says so once, not every interval. */
  #unreachable = false;

  constructor(admin: CaddyAdmin, gateway: GatewaySync, log: Logger, intervalMs: number) {
    this.#admin = admin;
    this.#gateway = gateway;
    this.#log = log.child({ part: 'gateway-watch' });
    this.#intervalMs = intervalMs;
  }

  start(): void {
    const tick = () => {
      this.#check = this.checkOnce().finally(() => {
        if (this.#timer) this.#timer = setTimeout(tick, this.#intervalMs);
      });
    };
    this.#timer = setTimeout(tick, this.#intervalMs);
  }

  async stop(): Promise<void> {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#check;
  }

  /** Reloads the gateway when Caddy answers with another configuration than the last one loaded. */
  async checkOnce(): Promise<void> {
    try {
      if (await this.#admin.holdsLastLoaded()) {
        this.#unreachable = false;
        return;
      }
      this.#log.warn(
        'the gateway runs another configuration than the last one loaded (restarted?); reloading',
      );
      await this.#gateway.sync();
      this.#unreachable = false;
    } catch (err) {
      if (!this.#unreachable)
        this.#log.warn({ err: err instanceof Error ? err.message : err }, 'gateway unreachable; watching');
      this.#unreachable = true;
    }
  }
}
