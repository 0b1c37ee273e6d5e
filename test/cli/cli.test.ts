import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanEnv, cli, ensureBuilt, type ServerProcess, startServer } from '../helpers/processes.js';
import { createTestDatabase, DRIVERS } from '../helpers/stores.js';

describe.each(DRIVERS)('rondo CLI against a server on %s', (driver) => {
  const home = mkdtempSync(join(tmpdir(), 'rondo-home-'));
  const token = 'rondo_cli_test_admin_token_0123456789abcdef';
  let server: ServerProcess;
  let dropDb: (() => Promise<void>) | undefined;
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    ensureBuilt();
    const serverEnv: NodeJS.ProcessEnv = { RONDO_DATA_DIR: join(home, 'data'), RONDO_BOOTSTRAP_TOKEN: token };
    if (driver === 'postgres') {
      const db = await createTestDatabase();
      serverEnv.RONDO_DATABASE_URL = db.url;
      dropDb = db.drop;
    }
    server = await startServer(serverEnv);
    // The CLI gets only HOME: login, server and org must come from what it stores.
    env = cleanEnv({ HOME: home });
  });
  afterAll(async () => {
    await server?.stop();
    await dropDb?.();
    rmSync(home, { recursive: true, force: true });
  });

  const run = (...args: string[]) => cli(args, env);

  it('logs in with a token from stdin and stores it readable only by the user', async () => {
    const bad = await cli(
      ['login', '--with-token', '--server', server.url],
      env,
      'rondo_not_a_real_token_at_all\n',
    );
    expect(bad.status).toBe(1);
    expect(bad.stderr.trim().split('\n')).toHaveLength(1);
    const res = await cli(['login', '--with-token', '--server', server.url], env, `${token}\n`);
    expect(res.stderr).toBe('');
    expect(res.status).toBe(0);
    expect(res.stdout).toContain('as admin (organization default)');
    const path = join(home, '.rondo', 'config.json');
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(path, 'utf8'))).toEqual({ server: server.url, token, org: 'default' });
  });

  it('creates a project and components (Git with build configs, and an image)', async () => {
    const p = await run('create', 'project', 'shop', '--description', 'Online shop');
    expect(p.status).toBe(0);
    expect(p.stdout).toMatch(/Name:\s+shop/);
    const c = await run(
      'create',
      'component',
      'api',
      '--project',
      'shop',
      '--type',
      'service',
      '--repo',
      'https://github.com/acme/shop.git',
      '--branch',
      'main',
      '--path',
      'services/api',
      '--build-preset',
      'nodejs',
      '--build-configs',
      'buildPackLangVersion=20,runCommand=npm start',
      '--build-configs',
      'port=8080',
    );
    expect(c.stderr).toBe('');
    expect(c.status).toBe(0);
    expect(c.stdout).toMatch(/Type:\s+service/);
    const saved = JSON.parse(
      (await run('describe', 'component', 'api', '--project', 'shop', '-o', 'json')).stdout,
    );
    expect(saved.buildConfigs).toEqual({ buildPackLangVersion: '20', runCommand: 'npm start', port: '8080' });
    const img = await run(
      'create',
      'component',
      'web',
      '--project',
      'shop',
      '--type',
      'webApp',
      '--image',
      'nginx:1.25',
      '-o',
      'json',
    );
    expect(JSON.parse(img.stdout)).toMatchObject({
      name: 'web',
      type: 'web-app',
      source: { kind: 'image', image: 'nginx:1.25' },
    });
  });

  it('lists and describes as table and JSON', async () => {
    const table = await run('list', 'components');
    expect(table.status).toBe(0);
    const lines = table.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^NAME\s+PROJECT\s+TYPE\s+PRESET\s+SOURCE$/);
    expect(lines.slice(1).map((l) => l.split(/\s+/)[0])).toEqual(['api', 'web']);

    const json = JSON.parse((await run('list', 'projects', '-o', 'json')).stdout);
    expect(json.items.map((p: { name: string }) => p.name)).toEqual(['shop']);

    const described = await run('describe', 'component', 'api', '--project', 'shop');
    expect(described.stdout).toMatch(/Source:\s+https:\/\/github.com\/acme\/shop.git#main:services\/api/);
    const asJson = JSON.parse((await run('describe', 'project', 'shop', '-o', 'json')).stdout);
    expect(asJson).toMatchObject({ name: 'shop', description: 'Online shop', pipeline: 'default' });
    const yaml = await run('describe', 'project', 'shop', '-o', 'yaml');
    expect(yaml.stdout).toMatch(/^name: shop$/m);
    const envs = await run('list', 'environments');
    expect(envs.stdout).toMatch(/production\s+true\s+local/);
  });

  it('exits 1 with one clear line on an API error, 2 on a usage error', async () => {
    const dup = await run('create', 'project', 'shop');
    expect(dup.status).toBe(1);
    expect(dup.stderr).toBe("Error: name: project 'shop' already exists; choose another name\n");
    const bad = await run(
      'create',
      'component',
      'x',
      '--project',
      'shop',
      '--repo',
      'ext::sh -c id',
      '--build-preset',
      'nodejs',
    );
    expect(bad.status).toBe(1);
    expect(bad.stderr).toMatch(/^Error: source.repoUrl: remote-helper transports/);
    expect(bad.stderr).not.toMatch(/\n\s+at /);
    expect((await run('list', 'nonsense')).status).toBe(2);
    expect((await run('create', 'component', 'x', '--project', 'shop')).status).toBe(2);
    expect((await run('--no-such-flag')).status).toBe(2);
    expect((await run('list', 'projects', '-o', 'xml')).status).toBe(2);
  });

  it('has --help on every command', async () => {
    for (const args of [
      ['--help'],
      ['create', '--help'],
      ['create', 'component', '--help'],
      ['list', '--help'],
      ['describe', '--help'],
      ['delete', '--help'],
      ['login', '--help'],
      ['server', '--help'],
    ]) {
      const res = await run(...args);
      expect(res.status, args.join(' ')).toBe(0);
      expect(res.stdout).toMatch(/^Usage: rondo/);
    }
  });

  it('lets RONDO_SERVER, RONDO_TOKEN and --org override the stored login', async () => {
    const wrong = await cli(['list', 'projects'], { ...env, RONDO_TOKEN: 'rondo_invalid_override_token' });
    expect(wrong.status).toBe(1);
    expect(wrong.stderr).toMatch(/not valid/);
    const otherOrg = await run('list', 'projects', '--org', 'elsewhere');
    expect(otherOrg.stderr).toMatch(/organization 'elsewhere' was not found/);
    const unreachable = await cli(['list', 'projects'], { ...env, RONDO_SERVER: 'http://127.0.0.1:9' });
    expect(unreachable.status).toBe(1);
    expect(unreachable.stderr).toMatch(/cannot reach the Rondo server at http:\/\/127.0.0.1:9/);
  });

  it('deletes what it created', async () => {
    expect((await run('delete', 'component', 'web', '--project', 'shop')).status).toBe(0);
    expect((await run('delete', 'component', 'api', '--project', 'shop')).status).toBe(0);
    expect((await run('delete', 'project', 'shop')).stdout).toBe('Deleted project shop.\n');
    expect((await run('list', 'projects')).stdout).toBe('No resources found.\n');
  });
});
