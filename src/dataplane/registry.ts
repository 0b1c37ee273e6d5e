import type { DataPlane } from './data-plane.js';
import { DockerDataPlane } from './docker/docker-data-plane.js';
import type { NameServer } from './docker/name-server.js';

/** What the registry needs of a data plane's record. */
export interface DataPlaneRecord {
  id: string;
  type: string;
  config: Record<string, unknown>;
}

/** One DataPlane client per data plane row, created on first use. */
export class DataPlaneRegistry {
  readonly #clients = new Map<string, DataPlane>();
  readonly #defaultSocket: string;
  readonly #names: NameServer | undefined;

  /** `names`: the host's name server, shared by the Docker data planes on this host. */
  constructor(defaultSocket: string, names?: NameServer) {
    this.#defaultSocket = defaultSocket;
    this.#names = names;
  }

  /** The clients created so far. */
  clients(): DataPlane[] {
    return [...this.#clients.values()];
  }

  for(row: DataPlaneRecord): DataPlane {
    let client = this.#clients.get(row.id);
    if (!client) {
      const socketPath =
        typeof row.config.socketPath === 'string' ? row.config.socketPath : this.#defaultSocket;
      client = new DockerDataPlane({ socketPath, ...(this.#names ? { names: this.#names } : {}) });
      this.#clients.set(row.id, client);
    }
    return client;
  }
}
