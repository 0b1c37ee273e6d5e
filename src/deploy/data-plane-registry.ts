import type { DataPlane } from '../dataplane/data-plane.js';
import { DockerDataPlane } from '../dataplane/docker/docker-data-plane.js';
import type { NameServer } from '../dataplane/docker/name-server.js';
import type { DataPlaneRow } from '../store/schema.js';

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

  for(row: Pick<DataPlaneRow, 'id' | 'type' | 'config'>): DataPlane {
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
