import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';

export const ROOT = join(import.meta.dirname, '..', '..');
export const CLI = join(ROOT, 'bin', 'rondo');

/** Builds the CLI once so timing-sensitive tests do not include a compile. */
export function ensureBuilt(): void {
  const r = spawnSync(CLI, ['--help'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`bin/rondo --help failed: ${r.stderr}`);
}

export interface ServerProcess {
  child: ChildProcess;
  url: string;
  output: () => string;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** Starts `rondo server --port 0` and resolves once it logs that it is ready. */
export function startServer(env: NodeJS.ProcessEnv, args: string[] = []): Promise<ServerProcess> {
  const child = spawn(CLI, ['server', '--port', '0', ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server not ready:\n${out}`)), 60_000);
    const onData = (chunk: Buffer) => {
      out += chunk.toString();
      const m = /"url":"(http:\/\/[^"]+)".*rondo control plane ready/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({
          child,
          url: m[1]!,
          output: () => out,
          async stop(signal = 'SIGTERM') {
            if (child.exitCode === null) child.kill(signal);
            return exited;
          },
        });
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code}:\n${out}`));
    });
  });
}

export interface CliResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** This process's environment without any RONDO_* variable, so a test controls all of them. */
export function cleanEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('RONDO_')));
  return { ...env, ...extra };
}

/** Runs `bin/rondo` with exactly `env` (use `cleanEnv`, with a private HOME for logins). */
export function cli(args: string[], env: NodeJS.ProcessEnv, input?: string): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = spawn(CLI, args, { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c) => (stdout += c));
    child.stderr.on('data', (c) => (stderr += c));
    child.stdin.end(input ?? '');
    child.on('exit', (status) => resolve({ status, stdout, stderr }));
  });
}

/**
 * JSON calls to a `rondo server` process as `token`; `server` is read at each call, since tests
 * restart the process.
 */
export function serverApi(server: () => ServerProcess | undefined, token: string) {
  return async (method: string, path: string, payload?: unknown) => {
    const res = await fetch(`${server()!.url}/api/v1${path}`, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(payload ? { 'content-type': 'application/json' } : {}),
      },
      ...(payload ? { body: JSON.stringify(payload) } : {}),
    });
    // biome-ignore lint/suspicious/noExplicitAny: assertions read arbitrary JSON shapes
    const body: any = res.status === 204 ? undefined : await res.json();
    return { status: res.status, body };
  };
}
