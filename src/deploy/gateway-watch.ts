import type { Logger } from 'pino';
import type { GatewaySync } from './gateway-sync.js';

/** The gateway as the watch sees it: whether it still runs what was last loaded (throws when it does not answer). */
export interface WatchedGateway {
  holdsLastLoaded(): Promise<boolean>;
}

/**
 * Restores the routes as soon as the gateway no longer runs the configuration last loaded: a
 * gateway that died and was started again (by `rondo up`'s supervisor, or by hand) comes back with
 * its start-up configuration, and the periodic resync alone would leave it without routes for up
 * to a period. One small runtime API request (`show env`) per interval.
 */
export class GatewayWatch {
  readonly #admin: WatchedGateway;
  readonly #gateway: GatewaySync;
  readonly #log: Logger;
  readonly #intervalMs: number;
  #timer: NodeJS.Timeout | undefined;
  #check: Promise<void> = Promise.resolve();
  /** Whether the last check found the gateway unreachable, so the log says so once, not every interval. */
  #unreachable = false;

  constructor(admin: WatchedGateway, gateway: GatewaySync, log: Logger, intervalMs: number) {
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

  /** Reloads the gateway when it answers with another configuration than the last one loaded. */
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
