import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_AUTH_FAILURE_LIMITS, loadConfig } from '../../src/config.js';
import { createRondo, type Rondo } from '../../src/server.js';
import { cleanEnv } from '../helpers/processes.js';
import { injector, startTestRondo, type TestRondo } from '../helpers/rondo.js';

type Json = Record<string, unknown>;
type Event = { actor: string; action: string; resource: string; outcome: string; org: string | null } & Json;

function expectProblem(res: { status: number; headers: Json; body: Json }, status: number, code: string) {
  expect(res.status, JSON.stringify(res.body)).toBe(status);
  expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
  expect(res.body).toMatchObject({ status, code, detail: expect.any(String), fix: expect.any(String) });
}

describe('failed authentication is limited per source', () => {
  const lines: string[] = [];
  let rondo: Rondo;
  let adminToken: string;
  beforeAll(async () => {
    adminToken = 'rondo_test_limit_admin_token_0123456789abcdef';
    rondo = await createRondo(
      {
        host: '127.0.0.1',
        port: 0,
        dataDir: 'memory://',
        bootstrapOrg: 'default',
        bootstrapToken: adminToken,
        logLevel: 'info',
        publicUrl: 'https://rondo.example.com',
        authFailures: { maxFailures: 3, windowSeconds: 600, blockSeconds: 600 },
      },
      pino({ level: 'info' }, { write: (line: string) => void lines.push(line) }),
    );
  });
  afterAll(() => rondo.close());

  const from = async (remoteAddress: string, token: string, url = '/api/v1/me') => {
    const res = await rondo.api.inject({
      method: 'GET',
      url,
      remoteAddress,
      headers: { authorization: `Bearer ${token}` },
    });
    return { status: res.statusCode, headers: res.headers as Json, body: JSON.parse(res.body) as Json };
  };

  it('answers 429 with Retry-After after repeated failures from one address; other addresses keep working', async () => {
    const guesses = [1, 2, 3, 4].map((n) => `rondo_guess_number_${n}_abcdefghijklmnopqrstuvwxyz`);
    for (const guess of guesses.slice(0, 3)) expect((await from('10.0.0.1', guess)).status).toBe(401);
    const limited = await from('10.0.0.1', guesses[3]!);
    expectProblem(limited, 429, 'RONDO_ERR_AUTH_RATE_LIMITED');
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    expect(limited.body.detail).toContain('10.0.0.1');
    // While blocked, the address learns nothing about any token, a valid one included.
    expectProblem(await from('10.0.0.1', adminToken), 429, 'RONDO_ERR_AUTH_RATE_LIMITED');
    expect((await from('10.0.0.2', adminToken)).status).toBe(200);
    // Public routes do not authenticate, so they are not limited.
    expect((await from('10.0.0.1', adminToken, '/api/v1/healthz')).status).toBe(200);
    // Failures are logged with their source, never with the token.
    const failures = lines.filter((l) => l.includes('authentication failed'));
    expect(failures).toHaveLength(3);
    expect(failures.every((l) => JSON.parse(l).source === '10.0.0.1')).toBe(true);
    for (const guess of guesses) expect(lines.join('\n')).not.toContain(guess);
    expect(lines.join('\n')).not.toContain(adminToken);
  });

  it('counts an IPv6 source by its /64 network', async () => {
    for (const n of [1, 2, 3])
      expect((await from(`2001:db8:0:7::${n}`, `rondo_v6_guess_${n}_abcdefghijkl`)).status).toBe(401);
    expect((await from('2001:db8:0:7:ffff::9', adminToken)).status).toBe(429);
    expect((await from('2001:db8:0:8::1', adminToken)).status).toBe(200);
  });

  it('builds webhook URLs from RONDO_PUBLIC_URL when it is set', async () => {
    const call = injector(rondo, adminToken);
    await call('POST', '/api/v1/orgs/default/projects', { body: { name: 'shop' } });
    await call('POST', '/api/v1/orgs/default/projects/shop/components', {
      body: {
        name: 'api',
        type: 'service',
        source: { repoUrl: 'https://github.com/acme/shop.git' },
        buildPreset: 'nodejs',
      },
    });
    const res = await call('POST', '/api/v1/orgs/default/projects/shop/components/api/webhook/secret', {
      headers: { host: 'evil.example' },
    });
    expect(res.status).toBe(200);
    for (const url of Object.values(res.body.urls as Record<string, string>))
      expect(url).toMatch(/^https:\/\/rondo\.example\.com\/hooks\//);
  });

  it('reads its thresholds and the public URL from the environment, refusing nonsense', () => {
    const config = loadConfig(
      {},
      {
        RONDO_AUTH_MAX_FAILURES: '5',
        RONDO_AUTH_FAILURE_WINDOW_SECONDS: '30',
        RONDO_AUTH_BLOCK_SECONDS: '120',
        RONDO_PUBLIC_URL: 'https://rondo.example.com/',
        RONDO_DATA_DIR: '/tmp/rondo-config-test',
      },
    );
    expect(config.authFailures).toEqual({ maxFailures: 5, windowSeconds: 30, blockSeconds: 120 });
    expect(config.publicUrl).toBe('https://rondo.example.com');
    expect(loadConfig({}, { RONDO_DATA_DIR: '/tmp/rondo-config-test' }).authFailures).toEqual(
      DEFAULT_AUTH_FAILURE_LIMITS,
    );
    expect(() => loadConfig({}, { RONDO_AUTH_MAX_FAILURES: 'ten' })).toThrow(/RONDO_AUTH_MAX_FAILURES/);
    expect(() => loadConfig({}, { RONDO_PUBLIC_URL: 'ftp://x' })).toThrow(/RONDO_PUBLIC_URL/);
  });
});

describe('rondo audit --platform', () => {
  let t: TestRondo;
  let url: string;
  const home = mkdtempSync(join(tmpdir(), 'rondo-audit-home-'));
  beforeAll(async () => {
    t = await startTestRondo('pglite');
    url = await t.rondo.listen();
    await t.call('POST', '/api/v1/users', { body: { name: 'pat' } });
    await t.call('GET', '/api/v1/me', { token: 'rondo_not_a_token_for_the_cli_test_000000' });
  });
  afterAll(async () => {
    await t.close();
    rmSync(home, { recursive: true, force: true });
  });

  /** The CLI from source (no build), against the listening control plane. */
  const rondo = (args: string[], token: string) =>
    new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], {
        env: cleanEnv({ HOME: home, RONDO_SERVER: url, RONDO_TOKEN: token }),
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (c) => (stdout += c));
      child.stderr.on('data', (c) => (stderr += c));
      child.on('exit', (status) => resolve({ status, stdout, stderr }));
    });

  it('marks nosniff even the answers Node refuses before Fastify (431)', async () => {
    const { port } = new URL(url);
    const head = await new Promise<string>((resolve, reject) => {
      const socket = connect(Number(port), '127.0.0.1', () =>
        socket.write(`GET /api/v1/healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`),
      );
      let got = '';
      socket.on('data', (c) => (got += c));
      socket.on('end', () => resolve(got));
      socket.on('error', reject);
    });
    expect(head).toMatch(/^HTTP\/1\.1 431/);
    expect(head).toMatch(/\r\nx-content-type-options: nosniff\r\n/i);
  });

  it('lists the platform log with the org log’s filters, for platform admins only', async () => {
    const res = await rondo(['audit', '--platform', '--outcome', 'denied', '-o', 'json'], t.adminToken);
    expect(res.status, res.stderr).toBe(0);
    const page = JSON.parse(res.stdout) as { items: Event[] };
    expect(page.items.length).toBeGreaterThan(0);
    expect(page.items.every((e) => e.org === null && e.outcome === 'denied')).toBe(true);
    expect(page.items.map((e) => e.action)).toContain('token.authenticate');
    const table = await rondo(['audit', '--platform', '--action', 'user.create'], t.adminToken);
    expect(table.stdout).toMatch(/user\.create\s+pat\s+success/);
    const org = await rondo(['audit', '--action', 'user.create', '-o', 'json'], t.adminToken);
    expect((JSON.parse(org.stdout) as { items: Event[] }).items).toEqual([]);
    const tok = await t.call('POST', '/api/v1/users/pat/tokens', { body: { name: 'cli' } });
    const refused = await rondo(['audit', '--platform'], tok.body.token);
    expect(refused.status).toBe(1);
    expect(refused.stderr).toMatch(/only platform admins/);
  });
});
