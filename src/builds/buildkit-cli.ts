import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';

/**
 * Builds with BuildKit through Debian's `docker` CLI (20.10 has BuildKit built in; the Engine
 * API path has no BuildKit sessions), for Dockerfiles that need it: `RUN --mount=type=secret`
 * makes the host's CA bundle available to package managers without it entering a layer.
 */
export interface BuildKitBuild {
  contextDir: string;
  dockerfile: string;
  tag: string;
  labels: Record<string, string>;
  /** id → file on the host, mounted with `RUN --mount=type=secret,id=…`. */
  secrets: Record<string, string>;
  buildArgs?: Record<string, string>;
}

export class BuildKitCli {
  readonly #cli: string;
  readonly #socket: string;

  constructor(cli: string, socket: string) {
    this.#cli = cli;
    this.#socket = socket;
  }

  available(): boolean {
    return existsSync(this.#cli);
  }

  build(
    b: BuildKitBuild,
    log: (line: string) => void,
    timeoutMs: number,
    signal?: AbortSignal,
  ): Promise<void> {
    if (!this.available()) {
      return Promise.reject(
        new Error(
          `this build needs BuildKit, and the docker CLI ${this.#cli} is missing; install docker.io or set RONDO_DOCKER_CLI`,
        ),
      );
    }
    const args = ['build', '--progress=plain', '-f', b.dockerfile, '-t', b.tag];
    for (const [k, v] of Object.entries(b.labels)) args.push('--label', `${k}=${v}`);
    for (const [id, src] of Object.entries(b.secrets)) args.push('--secret', `id=${id},src=${src}`);
    for (const [k, v] of Object.entries(b.buildArgs ?? {})) args.push('--build-arg', `${k}=${v}`);
    args.push('--', b.contextDir);
    return new Promise((resolve, reject) => {
      const child = spawn(this.#cli, args, {
        env: {
          PATH: process.env.PATH ?? '/usr/bin:/bin',
          DOCKER_BUILDKIT: '1',
          DOCKER_HOST: `unix://${this.#socket}`,
          HOME: '/nonexistent',
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      const abort = () => child.kill('SIGTERM');
      signal?.addEventListener('abort', abort, { once: true });
      let tail: string[] = [];
      const onData = (chunk: Buffer) => {
        for (const line of chunk.toString().split('\n')) {
          if (!line.trim()) continue;
          log(line);
          tail = [...tail.slice(-4), line];
        }
      };
      child.stdout.on('data', onData);
      child.stderr.on('data', onData);
      child.on('close', (code, killedBy) => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', abort);
        if (code === 0) resolve();
        else if (signal?.aborted) reject(new Error(String(signal.reason)));
        else if (killedBy === 'SIGKILL')
          reject(new Error(`the build timed out after ${Math.round(timeoutMs / 1000)} s`));
        else reject(new Error(`docker build failed: ${tail.join(' | ').slice(-500)}`));
      });
    });
  }
}
