import { mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt, startServer } from '../helpers/processes.js';
import { createTestDatabase, DRIVERS } from '../helpers/stores.js';

describe.each(DRIVERS)('rondo server on %s', (driver) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'rondo-srv-'));
  let env: NodeJS.ProcessEnv;
  let dropDb: (() => Promise<void>) | undefined;
  let token: string | undefined;
  beforeAll(async () => {
    ensureBuilt();
    env = { RONDO_DATA_DIR: dataDir, RONDO_BOOTSTRAP_TOKEN: '', RONDO_BOOTSTRAP_ORG: 'acme' };
    if (driver === 'postgres') {
      const db = await createTestDatabase();
      env.RONDO_DATABASE_URL = db.url;
      dropDb = db.drop;
    }
  });
  afterAll(async () => {
    rmSync(dataDir, { recursive: true, force: true });
    await dropDb?.();
  });

  it('prints a one-time admin token on the first start only, and the token works', async () => {
    const first = await startServer(env);
    token = /Admin token[^\n]*\n\n\s+(rondo_\S+)/.exec(first.output())?.[1];
    expect(token).toBeDefined();
    const me = await fetch(`${first.url}/api/v1/me`, { headers: { authorization: `Bearer ${token}` } });
    expect(await me.json()).toMatchObject({
      name: 'admin',
      defaultOrg: 'acme',
      organizations: [{ name: 'acme', role: 'admin' }],
    });
    expect(await first.stop()).toBe(0);

    const second = await startServer(env);
    expect(second.output()).not.toContain('Admin token');
    expect(second.output()).not.toContain(token!);
    expect(
      (await fetch(`${second.url}/api/v1/me`, { headers: { authorization: `Bearer ${token}` } })).status,
    ).toBe(200);
    expect(await second.stop()).toBe(0);
  });

  it('finishes an in-flight request on SIGTERM before exiting', async () => {
    const server = await startServer(env);
    const body = JSON.stringify({ name: 'slow' });
    const url = new URL(`${server.url}/api/v1/healthz`);
    // Send the headers, then SIGTERM, then the rest: the request must still be answered.
    const answered = new Promise<number>((resolve, reject) => {
      const req = request(
        {
          host: url.hostname,
          port: url.port,
          path: '/api/v1/orgs/acme/projects',
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'content-length': Buffer.byteLength(body),
            authorization: `Bearer ${token}`,
          },
        },
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        },
      );
      req.on('error', reject);
      req.write(body.slice(0, 5));
      setTimeout(() => {
        server.child.kill('SIGTERM');
        setTimeout(() => req.end(body.slice(5)), 300);
      }, 300);
    });
    // The handler needs the whole body, so the project exists only if the request outlived SIGTERM.
    expect(await answered).toBe(201);
    expect(await server.stop()).toBe(0);
    const again = await startServer(env);
    const project = await fetch(`${again.url}/api/v1/orgs/acme/projects/slow`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(project.status).toBe(200);
    expect(await again.stop()).toBe(0);
  });
});

describe('rondo server with RONDO_BOOTSTRAP_TOKEN', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'rondo-srv-'));
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  it('uses the given admin token and does not print it', async () => {
    const given = 'rondo_unattended_install_token_0123456789';
    const server = await startServer({ RONDO_DATA_DIR: dataDir, RONDO_BOOTSTRAP_TOKEN: given });
    expect(server.output()).not.toContain(given);
    expect(
      (await fetch(`${server.url}/api/v1/me`, { headers: { authorization: `Bearer ${given}` } })).status,
    ).toBe(200);
    expect(await server.stop()).toBe(0);
  });
});
