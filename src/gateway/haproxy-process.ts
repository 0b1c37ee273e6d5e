import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync, renameSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import type { HaproxyConfig, HaproxySettings } from './haproxy-config.js';

const execFileAsync = promisify(execFile);

export interface HaproxyProcessOptions {
  settings: HaproxySettings;
  /** The access log: HAProxy's standard output, one JSON object per line. */
  accessLogPath: string;
  /** HAProxy's own messages (start-up, reload warnings). */
  errorLogPath: string;
  /** The master's CLI socket (reloads are also a signal to the master). */
  masterSocket: string;
}

/** One command on a runtime API socket, answered in full (the socket closes after it). */
export function runtimeCommand(socket: string, command: string, timeoutMs = 2_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const c = createConnection(socket);
    let out = '';
    c.setEncoding('utf8');
    c.setTimeout(timeoutMs, () => c.destroy(new Error(`runtime API ${socket} did not answer`)));
    c.on('connect', () => c.write(`${command}\n`));
    c.on('data', (d: string) => {
      out += d;
    });
    c.on('error', reject);
    c.on('close', () => resolve(out));
  });
}

function mapEntries(text: string): Map<string, string> {
  const entries = new Map<string, string>();
  for (const line of text.split('\n')) {
    const [key, value] = line.split(' ');
    if (key && value) entries.set(key, value);
  }
  return entries;
}

async function expectEmpty(socket: string, command: string): Promise<void> {
  const out = (await runtimeCommand(socket, command)).trim();
  if (out)
    throw new Error(`HAProxy's runtime API refused \`${command.split(' ').slice(0, 3).join(' ')}\`: ${out}`);
}

/**
 * HAProxy in master-worker mode as a host process. A configuration change is written to disk,
 * checked by `haproxy -c`, then the master reloads: the new worker takes over the listening
 * sockets (`expose-fd listeners`), the old one finishes the requests it has, so no connection is
 * refused or reset. Loads are serialized and skipped when HAProxy already runs that configuration.
 */
export class HaproxyProcess {
  readonly #o: HaproxyProcessOptions;
  #child: ChildProcess | undefined;
  #loading: Promise<unknown> = Promise.resolve();
  /** The API-key maps as the running worker has them. */
  #runtimeMaps: Record<string, string> = {};

  constructor(options: HaproxyProcessOptions) {
    this.#o = options;
  }

  get pid(): number | undefined {
    return this.#child?.pid;
  }

  get configPath(): string {
    return join(this.#o.settings.configDir, 'haproxy.cfg');
  }

  #write(config: HaproxyConfig): void {
    const dir = this.#o.settings.configDir;
    mkdirSync(dir, { recursive: true });
    // Maps first, the file that names them last; each replaced in one rename.
    const files = [...Object.entries(config.maps), ...Object.entries(config.runtimeMaps)];
    for (const [name, text] of [...files, ['haproxy.cfg', config.text] as const]) this.#replace(name, text);
    this.#runtimeMaps = { ...config.runtimeMaps };
  }

  #replace(name: string, text: string): void {
    const tmp = join(this.#o.settings.configDir, `.${name}.tmp`);
    writeFileSync(tmp, text);
    renameSync(tmp, join(this.#o.settings.configDir, name));
  }

  /**
   * The running worker's API-key maps made equal to `config`'s through the runtime API (`del map`,
   * `add map`), no reload; the files are rewritten too, for the next worker.
   */
  async #syncRuntimeMaps(config: HaproxyConfig): Promise<void> {
    const socket = this.#o.settings.runtimeSocket;
    for (const [name, text] of Object.entries(config.runtimeMaps)) {
      const before = mapEntries(this.#runtimeMaps[name] ?? '');
      const after = mapEntries(text);
      const path = join(this.#o.settings.configDir, name);
      for (const [key, value] of before)
        if (after.get(key) !== value) await expectEmpty(socket, `del map ${path} ${key}`);
      for (const [key, value] of after)
        if (before.get(key) !== value) await expectEmpty(socket, `add map ${path} ${key} ${value}`);
      this.#replace(name, text);
      this.#runtimeMaps[name] = text;
    }
  }

  async #check(): Promise<void> {
    try {
      await execFileAsync('haproxy', ['-c', '-q', '-f', this.configPath]);
    } catch (err) {
      const stderr = (err as { stderr?: string }).stderr ?? String(err);
      throw new Error(`HAProxy refused the gateway configuration: ${stderr.slice(0, 800)}`);
    }
  }

  /** The identity of the configuration the current worker runs, or undefined when none answers. */
  async running(): Promise<string | undefined> {
    try {
      const out = await runtimeCommand(this.#o.settings.runtimeSocket, 'show env RONDO_CONFIG_ID');
      return /RONDO_CONFIG_ID=(\S+)/.exec(out)?.[1];
    } catch {
      return undefined;
    }
  }

  async #waitFor(identity: string, timeoutMs = 15_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (this.#child?.exitCode !== null && this.#child?.exitCode !== undefined)
        throw new Error(`HAProxy exited (${this.#child.exitCode}); see ${this.#o.errorLogPath}`);
      if ((await this.running()) === identity) return;
      await sleep(20);
    }
    throw new Error(`HAProxy did not run configuration ${identity} within ${timeoutMs} ms`);
  }

  async start(config: HaproxyConfig): Promise<void> {
    this.#write(config);
    await this.#check();
    const out = openSync(this.#o.accessLogPath, 'a');
    const err = openSync(this.#o.errorLogPath, 'a');
    this.#child = spawn('haproxy', ['-W', '-S', `${this.#o.masterSocket},mode,600`, '-f', this.configPath], {
      stdio: ['ignore', out, err],
    });
    closeSync(out);
    closeSync(err);
    await this.#waitFor(config.identity);
  }

  /** Makes HAProxy run `config`; false when it already did. */
  load(config: HaproxyConfig): Promise<boolean> {
    const next = this.#loading
      .catch(() => undefined)
      .then(async () => {
        if ((await this.running()) === config.identity) {
          await this.#syncRuntimeMaps(config);
          return false;
        }
        this.#write(config);
        await this.#check();
        this.#child?.kill('SIGUSR2');
        await this.#waitFor(config.identity);
        return true;
      });
    this.#loading = next;
    return next;
  }

  async stop(): Promise<void> {
    const child = this.#child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await exited;
  }
}
