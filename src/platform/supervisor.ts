import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { type ManagedProcess, pidFile, runningPid } from './processes.js';

/** What the supervisor knows about one part; `rondo doctor` shows it. */
export interface PartRecord {
  pid: number | undefined;
  /** `running`, `restarting` (waiting out its back-off or starting), or `failed` (last start failed). */
  state: 'running' | 'restarting' | 'failed';
  restarts: number;
  /** The last time the part was seen dying: how (when known) and when. */
  lastExit?: { code: number | null; signal: string | null; at: string };
  lastRestartAt?: string;
  /** Why the last start failed, when it did. */
  error?: string;
}

export interface SupervisorRecord {
  pid: number;
  startedAt: string;
  parts: Record<string, PartRecord>;
}

export const SUPERVISOR = 'supervisor';

export function supervisorRecordPath(dataDir: string): string {
  return join(dataDir, 'run', 'supervisor.json');
}

export function readSupervisorRecord(dataDir: string): SupervisorRecord | undefined {
  try {
    return JSON.parse(readFileSync(supervisorRecordPath(dataDir), 'utf8')) as SupervisorRecord;
  } catch {
    return undefined;
  }
}

/** Back-off before the nth restart in a row of a part that keeps dying soon after it starts. */
export function backoffMs(quickFailures: number): number {
  return Math.min(30_000, 100 * 2 ** quickFailures);
}

/** A part that ran this long before dying is restarted without back-off. */
const STABLE_MS = 30_000;
const POLL_MS = 200;

const now = () => new Date().toISOString();

/** Alive and not a zombie (a dead process nobody reaped still answers kill(pid, 0)). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return true;
  }
}

/**
 * Keeps the parts `rondo up` started running: each part is watched (the process it started is
 * adopted through its pid file; one it restarted is its own child, so its exit status is known),
 * and restarted when it dies, after a back-off that doubles while it keeps dying within 30 s of
 * its start. Parts survive the supervisor (they run in their own process groups); a new one
 * adopts them. The record in `run/supervisor.json` says what happened.
 */
export class Supervisor {
  readonly #dataDir: string;
  readonly #parts: ManagedProcess[];
  readonly #record: SupervisorRecord;
  #stopped = false;
  readonly #loops: Promise<void>[] = [];

  readonly #log: (event: Record<string, unknown>) => void;

  constructor(dataDir: string, parts: ManagedProcess[], log: (event: Record<string, unknown>) => void) {
    this.#dataDir = dataDir;
    this.#log = log;
    this.#parts = parts;
    const previous = readSupervisorRecord(dataDir);
    this.#record = { pid: process.pid, startedAt: new Date().toISOString(), parts: previous?.parts ?? {} };
  }

  /** Watches the parts (those `rondo up` started: an engine it found running is not its own). */
  start(): void {
    this.#save();
    for (const part of this.#parts) this.#loops.push(this.#watch(part));
    this.#log({ msg: 'supervising', parts: this.#parts.map((p) => p.name) });
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    await Promise.all(this.#loops);
  }

  #save(): void {
    const path = supervisorRecordPath(this.#dataDir);
    writeFileSync(`${path}.tmp`, `${JSON.stringify(this.#record, null, 2)}\n`);
    renameSync(`${path}.tmp`, path);
  }

  #part(name: string): PartRecord {
    const record = this.#record.parts[name] ?? { pid: undefined, state: 'running', restarts: 0 };
    this.#record.parts[name] = record;
    return record;
  }

  async #watch(part: ManagedProcess): Promise<void> {
    let pid = runningPid(this.#dataDir, part.name);
    let exit: Promise<{ code: number | null; signal: string | null }> | undefined;
    let startedAt = Date.now();
    let quickFailures = 0;
    const record = this.#part(part.name);
    Object.assign(record, { pid, state: 'running' });
    this.#save();
    while (!this.#stopped) {
      if (pid && alive(pid)) {
        await sleep(POLL_MS);
        continue;
      }
      // Started meanwhile by someone else (`rondo up` again): watch that one.
      const other = runningPid(this.#dataDir, part.name);
      if (other && other !== pid && alive(other)) {
        Object.assign(record, { pid: other, state: 'running' });
        [pid, exit, startedAt] = [other, undefined, Date.now()];
        this.#save();
        continue;
      }
      if (pid) {
        // The exit status is known only for a process this supervisor started (its child).
        const status = exit ? await Promise.race([exit, sleep(1000).then(() => undefined)]) : undefined;
        record.lastExit = { code: status?.code ?? null, signal: status?.signal ?? null, at: now() };
        quickFailures = Date.now() - startedAt < STABLE_MS ? quickFailures + 1 : 0;
        this.#log({ part: part.name, pid, msg: 'died', ...record.lastExit });
      }
      Object.assign(record, { state: 'restarting', pid: undefined });
      this.#save();
      await sleep(backoffMs(Math.max(0, quickFailures - 1)));
      if (this.#stopped) break;
      await part.beforeRestart?.();
      startedAt = Date.now();
      const child = this.#spawn(part);
      pid = child.pid;
      exit = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
      try {
        await this.#ready(part, child);
        Object.assign(record, { pid, state: 'running', error: undefined, lastRestartAt: now() });
        record.restarts++;
        this.#log({ part: part.name, pid, msg: 'restarted', restarts: record.restarts });
      } catch (err) {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
        part.onFailedStart?.();
        Object.assign(record, { state: 'failed', error: err instanceof Error ? err.message : String(err) });
        quickFailures++;
        this.#log({ part: part.name, msg: 'restart failed', error: record.error });
      }
      this.#save();
    }
  }

  #spawn(p: ManagedProcess): ChildProcess {
    mkdirSync(join(this.#dataDir, 'logs'), { recursive: true });
    const log = openSync(join(this.#dataDir, 'logs', `${p.name}.log`), 'a');
    const out = p.stdout ? openSync(p.stdout, 'a') : log;
    const child = spawn(p.command, p.restartArgs ?? p.args, {
      detached: true,
      stdio: ['ignore', out, log],
      env: p.env ?? process.env,
    });
    closeSync(log);
    if (out !== log) closeSync(out);
    child.unref();
    if (child.pid === undefined) throw new Error(`cannot start ${p.name} (${p.command})`);
    writeFileSync(pidFile(this.#dataDir, p.name), String(child.pid));
    return child;
  }

  async #ready(p: ManagedProcess, child: ChildProcess): Promise<void> {
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline && !this.#stopped) {
      if (child.exitCode !== null || child.signalCode !== null)
        throw new Error(`${p.name} exited right after it started`);
      if (await p.ready().catch(() => false)) return;
      await sleep(100);
    }
    throw new Error(`${p.name} did not become ready within 60 s`);
  }
}
