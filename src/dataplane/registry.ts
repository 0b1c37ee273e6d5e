import { RondoError } from '../domain/errors.js';
import type { DataPlaneDriver } from './driver.js';

/** What the registry needs of a data plane's record. */
export interface DataPlaneRecord {
  id: string;
  type: string;
  config: Record<string, unknown>;
}

/**
 * Makes the client of one data plane of its type from its record (the type's driver). A factory
 * whose driver loads on first need (Kubernetes) says how to wait for it (`preload`).
 */
export type DataPlaneFactory = ((record: DataPlaneRecord) => DataPlaneDriver) & {
  preload?: () => Promise<void>;
};

/**
 * One client per data plane record, created on first use by the factory of its type. The
 * composition root says which types this control plane can drive (`docker` today; G6 adds
 * `kubernetes`), so nothing below it names a driver.
 */
export class DataPlaneRegistry {
  readonly #clients = new Map<string, DataPlaneDriver>();
  readonly #factories: Readonly<Record<string, DataPlaneFactory>>;

  constructor(factories: Readonly<Record<string, DataPlaneFactory>>) {
    this.#factories = factories;
  }

  /** The drivers created so far, by data plane id. */
  clients(): [string, DataPlaneDriver][] {
    return [...this.#clients];
  }

  /**
   * Whether this control plane has a driver for data planes of `type`. The loops over every data
   * plane (resync, log and exit watches, metrics) skip the others, so a cluster registered before
   * its driver is deployed leaves the Docker data planes' work as it was; an environment on it is
   * refused (`for` throws) until then.
   */
  drives(type: string): boolean {
    return Object.hasOwn(this.#factories, type);
  }

  /**
   * The record's driver, or undefined where there is none right now (no driver for its type,
   * credentials that do not open, a driver still loading): the loops over every data plane skip
   * such a data plane this time round and leave the others' work as it was.
   */
  tryFor(record: DataPlaneRecord): DataPlaneDriver | undefined {
    if (!this.drives(record.type)) return undefined;
    try {
      return this.for(record);
    } catch {
      return undefined;
    }
  }

  /** The record's driver once its type's driver has loaded; throws as `for` does. */
  async ready(record: DataPlaneRecord): Promise<DataPlaneDriver> {
    const factory = Object.hasOwn(this.#factories, record.type) ? this.#factories[record.type] : undefined;
    await factory?.preload?.();
    return this.for(record);
  }

  /** Stops every driver made so far (their watches and connections) and forgets them: shutdown. */
  async shutdown(): Promise<void> {
    const drivers = [...this.#clients.values()];
    this.#clients.clear();
    await Promise.allSettled(drivers.map((d) => d.stop?.()));
  }

  for(record: DataPlaneRecord): DataPlaneDriver {
    let client = this.#clients.get(record.id);
    if (!client) {
      const factory = Object.hasOwn(this.#factories, record.type) ? this.#factories[record.type] : undefined;
      if (!factory)
        throw new RondoError(
          'RONDO_ERR_UNAVAILABLE',
          `data plane ${record.id} is of type '${record.type}', which this control plane has no driver for (it drives: ${Object.keys(this.#factories).join(', ')})`,
        );
      client = factory(record);
      this.#clients.set(record.id, client);
    }
    return client;
  }
}
