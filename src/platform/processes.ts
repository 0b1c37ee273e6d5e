import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/** A background process `rondo up` owns: started detached, tracked by a pid file in the data dir. */
export interface ManagedProcess {
  name: string;
  command: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
  /** Where its standard output goes, when not with its messages in `logs/<name>.log` (the gateway's access log). */
  stdout?: string;
  /** Resolves true once the process answers (socket, HTTP endpoint…). */
  ready: () => Promise<boolean>;
  /** Arguments when the supervisor starts it again after it died (default `args`). */
  restartArgs?: string[];
  /** Called when a restart fails, before the next attempt (e.g. to drop state that stops it starting). */
  onFailedStart?: () => void;
  /** Awaited before the supervisor starts it again (e.g. until what the dead process left exits). */
  beforeRestart?: () => Promise<void>;
}

export function pidFile(dataDir: string, name: string): string {
  return join(dataDir, 'run', `${name}.pid`);
}

export function runningPid(dataDir: string, name: string): number | undefined {
  try {
    const pid = Number(readFileSync(pidFile(dataDir, name), 'utf8'));
    process.kill(pid, 0);
    return pid;
  } catch {
    return undefined;
  }
}

/** Starts `p` in the background (logs in `<dataDir>/logs/<name>.log`) and waits until it answers. */
export async function startProcess(dataDir: string, p: ManagedProcess, timeoutMs = 60_000): Promise<number> {
  mkdirSync(join(dataDir, 'logs'), { recursive: true });
  mkdirSync(join(dataDir, 'run'), { recursive: true });
  const logPath = join(dataDir, 'logs', `${p.name}.log`);
  const log = openSync(logPath, 'a');
  const out = p.stdout ? openSync(p.stdout, 'a') : log;
  const child = spawn(p.command, p.args, {
    detached: true,
    stdio: ['ignore', out, log],
    env: p.env ?? process.env,
  });
  closeSync(log);
  if (out !== log) closeSync(out);
  child.unref();
  const pid = child.pid;
  if (pid === undefined) throw new Error(`cannot start ${p.name} (${p.command}); see ${logPath}`);
  writeFileSync(pidFile(dataDir, p.name), String(pid));
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      process.kill(pid, 0);
    } catch {
      throw new Error(`${p.name} exited right after it started; see ${logPath}`);
    }
    if (await p.ready().catch(() => false)) return pid;
    await sleep(100);
  }
  throw new Error(`${p.name} did not become ready within ${timeoutMs / 1000} s; see ${logPath}`);
}

/** SIGTERM, wait up to `timeoutMs`, and forget the pid file. Returns whether it was running. */
export async function stopProcess(dataDir: string, name: string, timeoutMs = 30_000): Promise<boolean> {
  const pid = runningPid(dataDir, name);
  if (!pid) {
    rmSync(pidFile(dataDir, name), { force: true });
    return false;
  }
  process.kill(pid, 'SIGTERM');
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      process.kill(pid, 0);
    } catch {
      rmSync(pidFile(dataDir, name), { force: true });
      return true;
    }
    await sleep(100);
  }
  throw new Error(`${name} (pid ${pid}) did not stop within ${timeoutMs / 1000} s`);
}

export async function httpAnswers(url: string): Promise<boolean> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(1000) });
    await res.body?.cancel();
    return res.status < 500;
  } catch {
    return false;
  }
}
