import { connect } from 'node:net';
import type { Probe } from './driver.js';

/** Probes from the control plane's host, for drivers whose data plane does not probe (Docker). */

/** Resolves with `undefined` when the probe passes, or a one-line reason when it does not. */
export function runProbe(ip: string, probe: Probe, timeoutMs = 1000): Promise<string | undefined> {
  if (probe.kind === 'http') return httpProbe(ip, probe.port, probe.path, timeoutMs);
  return new Promise((resolve) => {
    const socket = connect({ host: ip, port: probe.port });
    const done = (reason?: string) => {
      socket.destroy();
      resolve(reason);
    };
    socket.setTimeout(timeoutMs, () => done(`tcp ${ip}:${probe.port}: no answer within ${timeoutMs} ms`));
    socket.once('connect', () => done());
    socket.once('error', (err: NodeJS.ErrnoException) =>
      done(`tcp ${ip}:${probe.port}: ${err.code ?? err.message}`),
    );
  });
}

async function httpProbe(
  ip: string,
  port: number,
  path: string,
  timeoutMs: number,
): Promise<string | undefined> {
  try {
    const res = await fetch(`http://${ip}:${port}${path}`, {
      signal: AbortSignal.timeout(timeoutMs),
      redirect: 'manual',
    });
    await res.body?.cancel();
    return res.status >= 200 && res.status < 400 ? undefined : `http ${path}: status ${res.status}`;
  } catch (err) {
    return `http ${path}: ${err instanceof Error ? err.message : String(err)}`;
  }
}
