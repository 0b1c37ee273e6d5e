import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanEnv, cli, ensureBuilt, type ServerProcess, startServer } from '../helpers/processes.js';
import { kubeconfigText, plantedKubeToken } from '../helpers/secrets.js';
import { createTestDatabase, DRIVERS } from '../helpers/stores.js';

/** `rondo create dataplane` and `rondo describe dataplane` (G6 item 3). */
describe.each(DRIVERS)('rondo data planes against a server on %s', (driver) => {
  const home = mkdtempSync(join(tmpdir(), 'rondo-home-'));
  const token = 'rondo_cli_dataplane_admin_token_0123456789abcdef';
  const secret = plantedKubeToken();
  const kubeconfig = join(home, 'lab.kubeconfig');
  let server: ServerProcess;
  let dropDb: (() => Promise<void>) | undefined;
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    ensureBuilt();
    writeFileSync(kubeconfig, kubeconfigText(secret), { mode: 0o600 });
    const serverEnv: NodeJS.ProcessEnv = { RONDO_DATA_DIR: join(home, 'data'), RONDO_BOOTSTRAP_TOKEN: token };
    if (driver === 'postgres') {
      const db = await createTestDatabase();
      serverEnv.RONDO_DATABASE_URL = db.url;
      dropDb = db.drop;
    }
    server = await startServer(serverEnv);
    env = cleanEnv({ HOME: home });
    const login = await cli(['login', '--with-token', '--server', server.url], env, `${token}\n`);
    expect(login.status).toBe(0);
  });
  afterAll(async () => {
    await server?.stop();
    await dropDb?.();
    rmSync(home, { recursive: true, force: true });
  });

  const run = (...args: string[]) => cli(args, env);

  it('registers a Kubernetes cluster from a kubeconfig file and describes it without its credentials', async () => {
    const created = await run(
      'create',
      'dataplane',
      'lab',
      '--type',
      'kubernetes',
      '--kubeconfig',
      kubeconfig,
      '--context',
      'other',
    );
    expect(created.stderr).toBe('');
    expect(created.status).toBe(0);
    expect(created.stdout).toMatch(/Server:\s+https:\/\/10\.201\.0\.2:6443/);
    expect(created.stdout).toMatch(/Context:\s+other/);

    expect((await run('create', 'env', 'staging', '--data-plane', 'lab')).status).toBe(0);
    const described = await run('describe', 'dataplane', 'lab');
    expect(described.status).toBe(0);
    expect(described.stdout).toMatch(/^Name:\s+lab$/m);
    expect(described.stdout).toMatch(/^Type:\s+kubernetes$/m);
    expect(described.stdout).toMatch(/^Server:\s+https:\/\/10\.201\.0\.2:6443$/m);
    expect(described.stdout).toMatch(/^Context:\s+other$/m);
    expect(described.stdout).toMatch(/^Credentials:\s+stored encrypted$/m);
    expect(described.stdout).toMatch(/^Registry:\s+the address builds push to \(default\)$/m);
    expect(described.stdout).toMatch(/^Created:\s+\d{4}-/m);
    expect(described.stdout).toMatch(/^Environments:\s+staging$/m);
    // Read alone, it is checked: reachable or not, in how long, and why not.
    expect(described.stdout).toMatch(/^Status:\s+(reachable|unreachable) \(checked in \d+ ms\)$/m);
    expect(described.stdout).toMatch(/^Reason:\s+\S/m);

    const asJson = JSON.parse((await run('describe', 'dataplane', 'lab', '-o', 'json')).stdout);
    expect(asJson).toMatchObject({ name: 'lab', type: 'kubernetes', environments: ['staging'] });
    const list = await run('list', 'dataplanes');
    expect(list.stdout).toMatch(/lab\s+kubernetes\s+staging/);
    expect(list.stdout).toMatch(/local\s+docker\s+development,production/);
    for (const out of [created, described, list]) expect(out.stdout + out.stderr).not.toContain(secret);
  });

  it('registers where a cluster pulls with pull credentials from a file, and never shows the password', async () => {
    const pw = join(home, 'pull.pw');
    const password = `pull-${secret}`;
    writeFileSync(pw, `${password}\n`, { mode: 0o600 });
    const created = await run(
      'create',
      'dataplane',
      'lab-pull',
      '--type',
      'kubernetes',
      '--kubeconfig',
      kubeconfig,
      '--registry',
      '10.0.0.5:5000',
      '--registry-user',
      'puller',
      '--registry-password-file',
      pw,
    );
    expect(created.stderr).toBe('');
    expect(created.status).toBe(0);
    const described = await run('describe', 'dataplane', 'lab-pull');
    expect(described.stdout).toMatch(/^Registry:\s+10\.0\.0\.5:5000 \(pull credentials stored encrypted\)$/m);
    const asJson = JSON.parse((await run('describe', 'dataplane', 'lab-pull', '-o', 'json')).stdout);
    expect(asJson.config.registry).toEqual({ address: '10.0.0.5:5000', credentials: 'stored encrypted' });
    for (const out of [created, described]) expect(out.stdout + out.stderr).not.toContain(password);
    const half = await run(
      'create',
      'dataplane',
      'x',
      '--type',
      'kubernetes',
      '--kubeconfig',
      kubeconfig,
      '--registry',
      'r:5000',
      '--registry-user',
      'p',
    );
    expect(half.status).toBe(2);
    expect(half.stderr).toMatch(/together/);
  });

  it('registers a Docker engine by its socket and describes it', async () => {
    const created = await run(
      'create',
      'dataplane',
      'podman',
      '--type',
      'docker',
      '--socket',
      '/run/podman/podman.sock',
    );
    expect(created.status).toBe(0);
    const described = await run('describe', 'dataplane', 'podman');
    expect(described.stdout).toMatch(/^Socket:\s+\/run\/podman\/podman\.sock$/m);
    expect(described.stdout).toMatch(/^Environments:\s+-$/m);
    expect((await run('describe', 'dataplane', 'local')).stdout).toMatch(/^Socket:\s+the local engine/m);
  });

  it('a missing file is a usage error (2), a kubeconfig the server refuses an API error (1) naming the field', async () => {
    const missing = await run(
      'create',
      'dataplane',
      'x',
      '--type',
      'kubernetes',
      '--kubeconfig',
      join(home, 'nope'),
    );
    expect(missing.status).toBe(2);
    expect(missing.stderr).toMatch(/--kubeconfig .*nope: no such file/);
    expect((await run('create', 'dataplane', 'x', '--kubeconfig', kubeconfig)).status).toBe(2);

    const bad = await run(
      'create',
      'dataplane',
      'x',
      '--type',
      'kubernetes',
      '--kubeconfig',
      kubeconfig,
      '--context',
      'prod',
    );
    expect(bad.status).toBe(1);
    expect(bad.stderr).toMatch(
      /^Error: config\.context: the kubeconfig has no context 'prod'; use one of: ctx, other\n$/,
    );
    expect(bad.stderr).not.toContain(secret);
    expect((await run('describe', 'dataplane', 'x')).stderr).toMatch(/data plane 'x' was not found/);
  });
});
