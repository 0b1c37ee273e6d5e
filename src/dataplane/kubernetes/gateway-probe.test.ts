/**
 * The gateway's readiness probe script, run by the host's busybox (the gateway image's shell and
 * applets) against a real server on loopback.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Probe } from '../driver.js';
import { gatewayProbeCommand, gatewayProbeOutcome } from './gateway-probe.js';

const BUSYBOX = ['/bin/busybox', '/usr/bin/busybox'].find(existsSync);

describe.skipIf(!BUSYBOX)('readiness probed from the gateway (busybox)', () => {
  let bin: string;
  let server: Server;
  let port: number;
  let closedPort: number;
  const hits: string[] = [];

  beforeAll(async () => {
    bin = mkdtempSync(join(tmpdir(), 'rondo-probe-'));
    for (const applet of ['sh', 'nc', 'wget', 'timeout', 'grep', 'usleep'])
      symlinkSync(BUSYBOX as string, join(bin, applet));
    server = createServer((req, res) => {
      hits.push(req.url ?? '');
      res.statusCode = req.url === '/sick' ? 503 : req.url === '/moved' ? 302 : 200;
      res.end('x');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as AddressInfo).port;
    const other = createServer();
    await new Promise<void>((r) => other.listen(0, '127.0.0.1', r));
    closedPort = (other.address() as AddressInfo).port;
    await new Promise((r) => other.close(r));
  });
  afterAll(async () => {
    await new Promise((r) => server.close(r));
    rmSync(bin, { recursive: true, force: true });
  });

  const run = (probe: Probe, withinMs = 100): Promise<string | undefined> =>
    new Promise((resolve, reject) => {
      const [sh, ...args] = gatewayProbeCommand('127.0.0.1', probe, withinMs);
      execFile(join(bin, sh as string), args, { env: { PATH: bin } }, (err, stdout, stderr) => {
        if (err && typeof err.code !== 'number') return reject(err);
        resolve(gatewayProbeOutcome({ code: typeof err?.code === 'number' ? err.code : 0, stdout, stderr }));
      });
    });

  it('passes a TCP probe on a listening port and says why one on a closed port fails', async () => {
    expect(await run({ kind: 'tcp', port })).toBeUndefined();
    expect(await run({ kind: 'tcp', port: closedPort })).toBe(
      `connection to 127.0.0.1:${closedPort} refused or timed out`,
    );
  });

  it('passes an HTTP probe on 200–399 and fails one on 5xx with the answer', async () => {
    expect(await run({ kind: 'http', port, path: '/healthz' })).toBeUndefined();
    expect(await run({ kind: 'http', port, path: '/moved' })).toBeUndefined();
    expect(await run({ kind: 'http', port, path: '/sick' })).toBe(
      'answered HTTP/1.1 503 Service Unavailable',
    );
    expect(await run({ kind: 'http', port: closedPort, path: '/' })).toBe(
      `no answer from 127.0.0.1:${closedPort}`,
    );
  });

  it('tries again within its window (every 20 ms), so a server that starts meanwhile passes', async () => {
    const late = createServer((_req, res) => res.end('ok'));
    const pending = run({ kind: 'tcp', port: closedPort }, 2_000);
    await new Promise((r) => setTimeout(r, 200));
    await new Promise<void>((r) => late.listen(closedPort, '127.0.0.1', r));
    try {
      expect(await pending).toBeUndefined();
    } finally {
      await new Promise((r) => late.close(r));
    }
  });

  it('takes the path as an argument, never as script', async () => {
    // `$(…)` and `${IFS}` as a shell would read them, were the path ever part of the script.
    const path = ['/q?x=$(touch', '{IFS}/tmp/rondo-probe-pwned);id'].join('$');
    expect(await run({ kind: 'http', port, path })).toBeUndefined();
    expect(hits).toContain(path);
    expect(existsSync('/tmp/rondo-probe-pwned')).toBe(false);
  });

  it('reports an exec that did not run the script', () => {
    expect(gatewayProbeOutcome({ code: 126, stdout: '', stderr: 'sh: not found' })).toBe(
      'the gateway could not probe (exit 126): sh: not found',
    );
  });
});
