import { execFile } from 'node:child_process';
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { RondoError } from '../domain/errors.js';
import type { HaproxyConfig, HaproxySettings } from './haproxy-config.js';

const execFileAsync = promisify(execFile);

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

export interface HaproxyControlOptions {
  settings: HaproxySettings;
  /** The master's CLI socket (`haproxy -W -S <socket>`): a reload is one command on it. */
  masterSocket: string;
  /** Where HAProxy's own messages go, named in errors. */
  errorLogPath: string;
  /** The exit code when HAProxy is a child of this process and has exited (`HaproxyProcess`). */
  exited?: () => number | undefined;
}

/**
 * A running HAProxy in master-worker mode, driven through its files and sockets only, so the
 * control plane can drive one that `rondo up` started. A configuration change is written to disk,
 * then the master reloads: the new worker takes over the listening
 * sockets (`expose-fd listeners`), the old one finishes the requests it has, so no connection is
 * refused or reset. Loads are serialized and skipped when HAProxy already runs that configuration.
 */
export class HaproxyControl {
  readonly #o: HaproxyControlOptions;
  #loading: Promise<unknown> = Promise.resolve();
  /** The API-key maps as the running worker has them. */
  #runtimeMaps: Record<string, string> = {};
  /** The identity of the last configuration this process loaded. */
  #lastLoaded: string | undefined;

  constructor(options: HaproxyControlOptions) {
    this.#o = options;
  }

  get configPath(): string {
    return join(this.#o.settings.configDir, 'haproxy.cfg');
  }

  /** Writes `config` (maps first, the file that names them last; each replaced in one rename). */
  write(config: HaproxyConfig): void {
    mkdirSync(this.#o.settings.configDir, { recursive: true });
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

  /** `haproxy -c` on the written configuration. */
  async check(): Promise<void> {
    try {
      await execFileAsync('haproxy', ['-c', '-f', this.configPath]);
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

  /**
   * Whether HAProxy still runs the last configuration this process loaded; false after a restart
   * with another one (the start-up configuration) or when it does not answer.
   */
  async holdsLastLoaded(): Promise<boolean> {
    if (this.#lastLoaded === undefined) return true;
    const running = await this.running();
    if (running === undefined)
      throw new RondoError(
        'RONDO_ERR_UNAVAILABLE',
        `the gateway's runtime API at ${this.#o.settings.runtimeSocket} does not answer; start it (rondo up)`,
      );
    return running === this.#lastLoaded;
  }

  /**
   * Waits until the worker runs `identity`. When it has not after `diagnoseAfterMs`, `haproxy -c`
   * says whether the configuration is at fault (its message is the error); a configuration it
   * accepts may still fail to start (a port taken), which the timeout reports.
   */
  async waitFor(identity: string, timeoutMs = 15_000, diagnoseAfterMs = 2_000): Promise<void> {
    const start = Date.now();
    let diagnosed = false;
    while (Date.now() - start < timeoutMs) {
      const code = this.#o.exited?.();
      if (code !== undefined) throw new Error(`HAProxy exited (${code}); see ${this.#o.errorLogPath}`);
      if ((await this.running()) === identity) return;
      if (!diagnosed && Date.now() - start > diagnoseAfterMs) {
        diagnosed = true;
        await this.check();
      }
      await sleep(5);
    }
    throw new Error(
      `HAProxy did not run configuration ${identity} within ${timeoutMs} ms; see ${this.#o.errorLogPath}`,
    );
  }

  async #reload(): Promise<void> {
    // The master re-executes itself on every reload and is briefly deaf while it does: a refused
    // connection is tried again for a moment before the gateway counts as down.
    const deadline = Date.now() + 2_000;
    for (;;) {
      try {
        await runtimeCommand(this.#o.masterSocket, 'reload');
        return;
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        const down = this.#o.exited?.() !== undefined;
        if (!down && (code === 'ECONNREFUSED' || code === 'ENOENT') && Date.now() < deadline) {
          await sleep(20);
          continue;
        }
        this.#unavailable(err);
      }
    }
  }

  #unavailable(err: unknown): never {
    throw new RondoError(
      'RONDO_ERR_UNAVAILABLE',
      `the gateway's master socket ${this.#o.masterSocket} does not answer; start it (rondo up)`,
      { cause: err },
    );
  }

  /** Makes HAProxy run `config`; false when it already did. */
  load(config: HaproxyConfig): Promise<boolean> {
    const next = this.#loading
      .catch(() => undefined)
      .then(async () => {
        if ((await this.running()) === config.identity) {
          await this.#syncRuntimeMaps(config);
          this.#lastLoaded = config.identity;
          return false;
        }
        // No `haproxy -c` first: it costs a process and a parse (~30 ms) on every route change,
        // and the master refuses a configuration it cannot load all the same, keeping the old
        // worker; waitFor runs the check only when the new one does not come up.
        this.write(config);
        await this.#reload();
        await this.waitFor(config.identity);
        this.#lastLoaded = config.identity;
        return true;
      });
    this.#loading = next;
    return next;
  }
}
