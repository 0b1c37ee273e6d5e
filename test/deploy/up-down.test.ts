import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { removeImagesLabelled } from '../helpers/images.js';
import { freePort, internalPortBase } from '../helpers/platform.js';
import { cleanEnv, cli, ensureBuilt } from '../helpers/processes.js';

/** `rondo up` / `doctor` / `down` with the real registry and gateway (the engine already runs). */
describe('rondo up, doctor and down', () => {
  const dir = mkdtempSync(join(tmpdir(), 'rondo-up-'));
  let env: NodeJS.ProcessEnv;
  afterAll(async () => {
    if (env) await cli(['down', '--data-dir', join(dir, 'data')], env);
    await removeImagesLabelled('rondo.base-image');
    rmSync(dir, { recursive: true, force: true });
  });

  it('starts the platform in the background, prints where it is and the token, and is idempotent', async () => {
    ensureBuilt();
    env = cleanEnv({
      HOME: dir,
      RONDO_DATA_DIR: join(dir, 'data'),
      RONDO_BUILD_WORKDIR: join(dir, 'builds'),
      RONDO_PORT: String(await freePort()),
      RONDO_GATEWAY_PORT: String(await freePort()),
      RONDO_GATEWAY_METRICS: `127.0.0.1:${await freePort()}`,
      RONDO_REGISTRY_LISTEN: `127.0.0.1:${await freePort()}`,
      RONDO_METRICS_LISTEN: `127.0.0.1:${await freePort()}`,
      RONDO_ALERTMANAGER_LISTEN: `127.0.0.1:${await freePort()}`,
      RONDO_INTERNAL_GATEWAY_PORT_BASE: String(internalPortBase()),
    });
    const up = await cli(['up'], env);
    expect(up.stderr).toBe('');
    expect(up.status).toBe(0);
    expect(up.stdout).toMatch(/Started registry, gateway, prometheus, alertmanager\./);
    expect(up.stdout).toContain(`API:      http://127.0.0.1:${env.RONDO_PORT}/api/v1`);
    expect(up.stdout).toContain(`Gateway:  http://<env>.localhost:${env.RONDO_GATEWAY_PORT}/`);
    expect(up.stdout).toContain(`Registry: ${env.RONDO_REGISTRY_LISTEN}`);
    // The console line appears because `/` serves it (G4); `rondo up` checks before promising it.
    expect(up.stdout).toContain(`Console:  http://127.0.0.1:${env.RONDO_PORT}/`);
    const token = /Admin token[^\n]*\n\n\s+(rondo_\S+)/.exec(up.stdout)?.[1];
    expect(token).toBeDefined();
    // The token is shown once and never written to the logs.
    expect(readFileSync(join(dir, 'data', 'logs', 'rondo.log'), 'utf8')).not.toContain(token!);
    const me = await fetch(`http://127.0.0.1:${env.RONDO_PORT}/api/v1/me`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(me.status).toBe(200);
    expect((await fetch(`http://${env.RONDO_REGISTRY_LISTEN}/v2/`)).status).toBe(200);

    const again = await cli(['up'], env);
    expect(again.stdout).toMatch(/already running/);
    expect(again.stdout).not.toContain('Admin token');
  });

  it('bootstraps the static base image into the platform registry and records it', async () => {
    // What `make up` runs: the official images do not answer here, so it bootstraps.
    const res = await cli(['images', 'bootstrap', '--if-missing', '--stacks', ''], env);
    expect(res.status).toBe(0);
    expect(res.stderr).toMatch(/No configured base image is reachable/);
    // Not a terminal: lasting lines only, the image's start and its end with size and time, none twice.
    const lines = res.stderr.split('\n').filter(Boolean);
    expect(lines.filter((l) => l.startsWith('▸ static 2:'))).toHaveLength(1);
    expect(lines.filter((l) => /^✓ static 2: \d+(\.\d+)? [kM]B in \d+\.\d s$/.test(l))).toHaveLength(1);
    expect(new Set(lines).size).toBe(lines.length);
    const recorded = JSON.parse(readFileSync(join(dir, 'data', 'images.json'), 'utf8'));
    expect(recorded.static['2']).toMatch(
      new RegExp(`^${env.RONDO_REGISTRY_LISTEN}/rondo/static@sha256:[0-9a-f]{64}$`),
    );
    const tags = (await (
      await fetch(`http://${env.RONDO_REGISTRY_LISTEN}/v2/rondo/static/tags/list`)
    ).json()) as { tags: string[] };
    expect(tags.tags).toEqual(['2']);
    const again = await cli(['images', 'bootstrap', '--if-missing'], env);
    expect(again.status).toBe(0);
    expect(again.stderr).toMatch(/recorded in images.json; nothing to do/);
  });

  it('doctor checks every part and exits 0 when all answer', async () => {
    const res = await cli(['doctor'], env);
    expect(res.status).toBe(0);
    for (const part of [
      'control plane',
      'docker engine',
      'registry',
      'gateway runtime API',
      'open files limit',
      'disk space',
    ]) {
      expect(res.stdout).toMatch(new RegExp(`^ok\\s+${part}`, 'm'));
    }
  });

  it('down stops what up started; doctor then says what is wrong and how to fix it', async () => {
    const down = await cli(['down', '--data-dir', join(dir, 'data')], env);
    expect(down.stdout).toBe('Stopped rondo, alertmanager, prometheus, gateway, registry.\n');
    // Something else took the gateway's port meanwhile.
    const squatter = createServer().listen(Number(env.RONDO_GATEWAY_PORT), '0.0.0.0');
    await new Promise((r) => squatter.once('listening', r));
    const res = await cli(['doctor'], env);
    squatter.close();
    expect(res.status).toBe(1);
    expect(res.stdout).toMatch(
      new RegExp(
        `^FAIL\\s+gateway port\\s+port ${env.RONDO_GATEWAY_PORT} is taken by another program\\n\\s+fix: `,
        'm',
      ),
    );
    expect(res.stdout).toMatch(/^FAIL\s+control plane\s+nothing answers at .*\n\s+fix: rondo up$/m);
    expect(res.stdout).toMatch(/^FAIL\s+registry\s+registry down at/m);
    expect(res.stdout).toMatch(/^ok\s+docker engine/m);
  });
});
