import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ManagedProcess, startProcess, stopProcess } from '../src/platform/processes.js';
import { registryProcess, registryPullProcess } from '../src/platform/registry.js';
import { loadPlatformConfig } from '../src/platform-config.js';
import { freePort } from './helpers/platform.js';

/**
 * The platform registry's pull door (`RONDO_REGISTRY_PULL_LISTEN`), as `rondo up` runs it beside
 * the registry: the same storage, read-only, asking for the credentials clusters' records carry.
 */
describe('the platform registry’s pull door', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'rondo-registry-pull-'));
  const basic = (user: string, password: string) =>
    `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
  let push = '';
  let pull = '';
  const started: ManagedProcess[] = [];

  beforeAll(async () => {
    push = `127.0.0.1:${await freePort()}`;
    pull = `127.0.0.1:${await freePort()}`;
    const htpasswd = join(dataDir, 'htpasswd');
    const hash = execFileSync(
      '/usr/bin/python3',
      [
        '-W',
        'ignore',
        '-c',
        'import crypt; print(crypt.crypt("s3cret", crypt.mksalt(crypt.METHOD_BLOWFISH)))',
      ],
      { encoding: 'utf8' },
    ).trim();
    writeFileSync(htpasswd, `puller:${hash}\n`);
    const env = {
      RONDO_REGISTRY_LISTEN: push,
      RONDO_REGISTRY_PULL_LISTEN: pull,
      RONDO_REGISTRY_PULL_HTPASSWD: htpasswd,
    };
    const platform = loadPlatformConfig(dataDir, env);
    expect(platform?.registryPull).toEqual({ listen: pull, htpasswd });
    for (const p of [registryProcess(dataDir, push), registryPullProcess(dataDir, platform!.registryPull!)]) {
      await startProcess(dataDir, p);
      started.push(p);
    }
  }, 60_000);
  afterAll(async () => {
    for (const p of started.reverse()) await stopProcess(dataDir, p.name);
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('is absent unless configured', () => {
    expect(loadPlatformConfig(dataDir, {})?.registryPull).toBeUndefined();
  });

  it('serves what was pushed to the registry, to those with the credentials only', async () => {
    // A blob pushed on the push side (monolithic upload), by its digest.
    const content = Buffer.from(`layer ${Math.random()}`);
    const digest = `sha256:${createHash('sha256').update(content).digest('hex')}`;
    const started = await fetch(`http://${push}/v2/rondo-test/door/blobs/uploads/`, { method: 'POST' });
    expect(started.status).toBe(202);
    const location = new URL(started.headers.get('location')!, `http://${push}`);
    location.searchParams.set('digest', digest);
    const put = await fetch(location, {
      method: 'PUT',
      body: content,
      headers: { 'content-type': 'application/octet-stream' },
    });
    expect(put.status).toBe(201);

    const blob = `http://${pull}/v2/rondo-test/door/blobs/${digest}`;
    expect((await fetch(blob)).status).toBe(401);
    expect((await fetch(blob, { headers: { authorization: basic('puller', 'wrong') } })).status).toBe(401);
    const read = await fetch(blob, { headers: { authorization: basic('puller', 's3cret') } });
    expect(read.status).toBe(200);
    expect(Buffer.from(await read.arrayBuffer()).equals(content)).toBe(true);
  });

  it('refuses a push, even with the credentials', async () => {
    const res = await fetch(`http://${pull}/v2/rondo-test/door/blobs/uploads/`, {
      method: 'POST',
      headers: { authorization: basic('puller', 's3cret') },
    });
    // Distribution's read-only mode: the upload routes answer 405.
    expect(res.status).toBe(405);
    expect(await res.text()).toMatch(/method not allowed/i);
  });
});
