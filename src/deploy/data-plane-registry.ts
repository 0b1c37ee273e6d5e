import type { DataPlane } from '../dataplane/data-plane.js';
import { DockerDataPlane } from '../dataplane/docker/docker-data-plane.js';
import type { DataPlaneRow } from '../store/schema.js';

/** One DataPlane client per data plane row, created on first use. */
export class DataPlaneRegistry {
  readonly #clients = new Map<string, DataPlane>();
  readonly #defaultSocket: string;

  constructor(defaultSocket: string) {
    this.#defaultSocket = defaultSocket;
  }

  for(row: Pick<DataPlaneRow, 'id' | 'type' | 'config'>): DataPlane {
    let client = this.#clients.get(row.id);
    if (!client) {
      const socketPath =
        typeof row.config.socketPath === 'string' ? row.config.socketPath : this.#defaultSocket;
      client = new DockerDataPlane({ socketPath });
      this.#clients.set(row.id, client);
    }
    return client;
  }
}
