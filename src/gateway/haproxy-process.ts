import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import type { HaproxyConfig, HaproxySettings } from './haproxy-config.js';
import { HaproxyControl } from './haproxy-control.js';

export { runtimeCommand } from './haproxy-control.js';

export interface HaproxyProcessOptions {
  settings: HaproxySettings;
  /** The access log: HAProxy's standard output, one JSON object per line. */
  accessLogPath: string;
  /** HAProxy's own messages (start-up, reload warnings). */
  errorLogPath: string;
  /** The master's CLI socket (reloads are a command on it). */
  masterSocket: string;
}

/**
 * HAProxy as a child of this process (tests and benchmarks; `rondo up` starts the platform's own
 * as a managed process and the control plane drives it with `HaproxyControl` alone).
 */
export class HaproxyProcess {
  readonly #o: HaproxyProcessOptions;
  readonly #control: HaproxyControl;
  #child: ChildProcess | undefined;

  constructor(options: HaproxyProcessOptions) {
    this.#o = options;
    this.#control = new HaproxyControl({
      settings: options.settings,
      masterSocket: options.masterSocket,
      errorLogPath: options.errorLogPath,
      exited: () => this.#child?.exitCode ?? undefined,
    });
  }

  get pid(): number | undefined {
    return this.#child?.pid;
  }

  get configPath(): string {
    return this.#control.configPath;
  }

  get control(): HaproxyControl {
    return this.#control;
  }

  running(): Promise<string | undefined> {
    return this.#control.running();
  }

  async start(config: HaproxyConfig): Promise<void> {
    this.#control.write(config);
    await this.#control.check();
    const out = openSync(this.#o.accessLogPath, 'a');
    const err = openSync(this.#o.errorLogPath, 'a');
    this.#child = spawn('haproxy', ['-W', '-S', `${this.#o.masterSocket},mode,600`, '-f', this.configPath], {
      stdio: ['ignore', out, err],
    });
    closeSync(out);
    closeSync(err);
    await this.#control.waitFor(config.identity);
  }

  /** Makes HAProxy run `config`; false when it already did. */
  load(config: HaproxyConfig): Promise<boolean> {
    return this.#control.load(config);
  }

  async stop(): Promise<void> {
    const child = this.#child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await exited;
  }
}
