import type { Probe } from '../driver.js';
import type { ExecResult } from './pod-exec.js';

/** One readiness check from the gateway: undefined when it passed, else what it saw. */
export type GatewayProbe = (ip: string, probe: Probe, withinMs: number) => Promise<string | undefined>;

/** How often the gateway tries within one exec. */
const EVERY_MS = 20;

/**
 * A readiness probe as the kubelet runs it (§6.4: TCP connects; HTTP answers 200–399), tried
 * every 20 ms up to `tries` times, in the gateway pod's busybox shell: `nc -e true` exits 0 once
 * connected; busybox `wget -S` prints the status line. The address, port and path are arguments,
 * never part of the script.
 */
const SCRIPT = `kind=$1 ip=$2 port=$3 path=$4 tries=$5 i=0 why=
while :; do
  if [ "$kind" = tcp ]; then
    nc -w 1 "$ip" "$port" -e true 2>/dev/null && { echo pass; exit 0; }
    why="connection to $ip:$port refused or timed out"
  else
    line=$(timeout 2 wget -q -S -O /dev/null "http://$ip:$port$path" 2>&1 | grep -m1 'HTTP/')
    set -- $line
    case "$2" in 2??|3??) echo pass; exit 0;; esac
    if [ -n "$line" ]; then why="answered $*"; else why="no answer from $ip:$port"; fi
  fi
  i=$((i+1))
  [ "$i" -ge "$tries" ] && { echo "fail: $why"; exit 0; }
  usleep ${EVERY_MS * 1000}
done`;

export function gatewayProbeCommand(ip: string, probe: Probe, withinMs: number): string[] {
  const tries = Math.max(1, Math.floor(withinMs / EVERY_MS));
  const path = probe.kind === 'http' ? probe.path : '';
  return ['sh', '-c', SCRIPT, 'probe', probe.kind, ip, String(probe.port), path, String(tries)];
}

/** What the probe's exec said: undefined when it passed. */
export function gatewayProbeOutcome(r: ExecResult): string | undefined {
  const last = r.stdout.trim().split('\n').at(-1)?.trim() ?? '';
  if (r.code === 0 && last === 'pass') return undefined;
  if (r.code === 0 && last.startsWith('fail: ')) return last.slice('fail: '.length).trim();
  return `the gateway could not probe (exit ${r.code}): ${(r.stderr || r.stdout).trim().slice(0, 300)}`;
}
