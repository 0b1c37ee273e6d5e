import type { Readable } from 'node:stream';
import Docker from 'dockerode';
import { engineMessage, engineUnavailable } from './engine-errors.js';

export interface ImageBuild {
  /** A tar archive of the build context. */
  context: Readable;
  /** Path of the Dockerfile inside the context. */
  dockerfile: string;
  tag: string;
  /** Each label is a build step of its own; prefer a LABEL instruction in the Dockerfile. */
  labels?: Record<string, string>;
  buildArgs?: Record<string, string>;
  /** Aborting closes the connection, which makes the engine stop the build. */
  signal?: AbortSignal;
}

interface ProgressEvent {
  stream?: string;
  status?: string;
  error?: string;
  errorDetail?: { message?: string };
  aux?: { ID?: string; Digest?: string };
}

/** One event of a push as the engine reports it (per layer: Preparing, Waiting, Pushing, Pushed…). */
export interface PushEvent {
  /** The layer's short id; absent on events about the whole push. */
  id?: string;
  status?: string;
  progressDetail?: { current?: number; total?: number };
  aux?: { Tag?: string; Digest?: string; Size?: number };
}

/**
 * Builds and pushes images with the engine (builds never run on the host, §4). Output lines go
 * to `log` as they arrive, so a build's log streams live.
 */
export class DockerImages {
  readonly #docker: Docker;
  readonly #socketPath: string;

  constructor(socketPath = '/var/run/docker.sock') {
    this.#socketPath = socketPath;
    this.#docker = new Docker({ socketPath });
  }

  async #follow(
    stream: NodeJS.ReadableStream,
    log: (line: string) => void,
    onEvent?: (e: ProgressEvent & PushEvent) => void,
  ): Promise<ProgressEvent[]> {
    return new Promise((resolve, reject) =>
      this.#docker.modem.followProgress(
        stream,
        (err: Error | null, events: ProgressEvent[]) => {
          const failed = events?.find((e) => e.error);
          if (err || failed)
            reject(new Error(failed?.errorDetail?.message ?? failed?.error ?? engineMessage(err)));
          else resolve(events);
        },
        (e: ProgressEvent & PushEvent) => {
          if (onEvent) return onEvent(e);
          const text =
            e.stream ?? (e.status ? `${e.status}${e.aux?.Digest ? ` ${e.aux.Digest}` : ''}` : undefined);
          if (text?.trim()) log(text.trimEnd());
        },
      ),
    );
  }

  /** Builds `tag` from the context; returns the image id. */
  async build(b: ImageBuild, log: (line: string) => void): Promise<string> {
    let stream: NodeJS.ReadableStream;
    try {
      stream = await this.#docker.buildImage(b.context, {
        t: b.tag,
        dockerfile: b.dockerfile,
        labels: b.labels ?? {},
        buildargs: b.buildArgs ?? {},
        rm: true,
        forcerm: true,
      });
    } catch (err) {
      throw engineUnavailable(err, this.#socketPath);
    }
    const stop = () =>
      (stream as unknown as { destroy?: (err?: Error) => void }).destroy?.(
        new Error(String(b.signal?.reason ?? 'aborted')),
      );
    b.signal?.addEventListener('abort', stop, { once: true });
    try {
      await this.#follow(stream, log);
    } finally {
      b.signal?.removeEventListener('abort', stop);
    }
    return (await this.#docker.getImage(b.tag).inspect()).Id;
  }

  /**
   * Pushes `tag` to its registry and returns the manifest digest (`sha256:…`). The engine's
   * events go to `onEvent` as they come (one layer's progress each); the caller says what to show.
   */
  async push(tag: string, onEvent: (e: PushEvent) => void = () => undefined): Promise<string> {
    // An empty auth header is what an unauthenticated registry expects; the engine requires one.
    const stream = await this.#docker.getImage(tag).push({ authconfig: {} });
    const events = await this.#follow(stream, () => undefined, onEvent);
    const digest = events.map((e) => e.aux?.Digest).find(Boolean);
    if (!digest) throw new Error(`the registry did not report a digest for ${tag}`);
    return digest;
  }

  /** Imports a root filesystem tarball as image `ref` (docker import), with `labels`. */
  async importRootfs(
    tarball: NodeJS.ReadableStream,
    ref: string,
    log: (line: string) => void,
    labels: Record<string, string> = {},
  ): Promise<void> {
    const colon = ref.lastIndexOf(':');
    const stream = await this.#docker.importImage(tarball, {
      repo: ref.slice(0, colon),
      tag: ref.slice(colon + 1),
      // Dockerfile instructions applied to the imported image (`docker import --change`).
      changes: Object.entries(labels).map(([k, v]) => `LABEL ${k}=${JSON.stringify(v)}`),
    });
    await this.#follow(stream, log);
  }

  /** Makes a base image present (pulling it when needed); says what to do when it cannot. */
  async ensure(ref: string, log: (line: string) => void): Promise<void> {
    try {
      await this.#docker.getImage(ref).inspect();
      return;
    } catch {
      // not present: pull below
    }
    try {
      await this.#follow(await this.#docker.pull(ref), log);
    } catch (err) {
      throw new Error(
        `base image ${ref} is not available on this site (${engineMessage(err).trim().slice(0, 200)}); run \`rondo images bootstrap\` or map the stack to a reachable image in images.json`,
      );
    }
  }

  /** The image's size on the engine (uncompressed, base layers included), in bytes. */
  async size(ref: string): Promise<number> {
    return (await this.#docker.getImage(ref).inspect()).Size;
  }

  async remove(ref: string): Promise<void> {
    await this.#docker
      .getImage(ref)
      .remove({ force: true })
      .catch(() => undefined);
  }
}
