import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRepo } from '../helpers/git.js';
import { buildWebImage, cleanupInstance, docker } from '../helpers/images.js';
import { gatewayGet, platformServerEnv, startCaddy, startRegistry } from '../helpers/platform.js';
import { cleanEnv, cli, ensureBuilt, type ServerProcess, startServer } from '../helpers/processes.js';

const TOKEN = 'rondo_cli_deploy_test_admin_token_0123456789';

describe('rondo deploy from the CLI', () => {
  const dir = mkdtempSync(join(tmpdir(), 'rondo-cli-deploy-'));
  let caddy: Awaited<ReturnType<typeof startCaddy>>;
  let server: ServerProcess;
  let registry: Awaited<ReturnType<typeof startRegistry>>;
  let publicPort = 0;
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    ensureBuilt();
    await buildWebImage('rondo-test-web:v1', { body: 'hello v1' });
    caddy = await startCaddy(dir);
    registry = await startRegistry(dir);
    const serverEnv = {
      ...(await platformServerEnv(caddy.adminListen, join(dir, 'data'), TOKEN)),
      RONDO_REGISTRY_LISTEN: registry.addr,
    };
    publicPort = Number(serverEnv.RONDO_GATEWAY_PORT);
    server = await startServer(serverEnv);
    env = cleanEnv({ HOME: dir, RONDO_SERVER: server.url, RONDO_TOKEN: TOKEN });
  });
  afterAll(async () => {
    const [c] = await docker.listContainers({
      filters: { label: ['rondo.component=hello', 'rondo.project=shop'] },
    });
    await server?.stop();
    if (c) await cleanupInstance(c.Labels['rondo.instance']!);
    await caddy?.stop();
    registry?.stop();
    const built = await docker.listImages({ filters: { label: ['rondo.build'] } });
    await Promise.all(
      built.map((i) =>
        docker
          .getImage(i.Id)
          .remove({ force: true })
          .catch(() => undefined),
      ),
    );
    rmSync(dir, { recursive: true, force: true });
  });

  it('deploys an image component and it answers at the URL describe prints', async () => {
    expect((await cli(['create', 'project', 'shop'], env)).status).toBe(0);
    const created = await cli(
      ['create', 'component', 'hello', '--project', 'shop', '--image', 'rondo-test-web:v1', '--port', '8080'],
      env,
    );
    expect(created.stdout).toMatch(/Endpoints:\s+rest REST :8080\/ \(Public\)/);
    const deployed = await cli(
      ['deploy', 'hello', '--project', 'shop', '--env', 'development', '--wait'],
      env,
    );
    expect(deployed.stdout).toMatch(/Status:\s+active/);
    expect(deployed.status).toBe(0);
    const described = await cli(['describe', 'component', 'hello', '--project', 'shop'], env);
    expect(described.stdout).toMatch(/development: active rondo-test-web:v1, 1\/1 ready, 0 restarts/);
    const url = new URL(/Public\s+(http:\/\/\S+)/.exec(described.stdout)![1]!);
    expect(url.port).toBe(String(publicPort));
    expect(await gatewayGet(publicPort, url.hostname, url.pathname)).toEqual({
      status: 200,
      body: 'hello v1',
    });
  });

  it('reports a failed rollout with exit code 1 and the reason', async () => {
    const res = await cli(
      [
        'deploy',
        'hello',
        '--project',
        'shop',
        '--env',
        'development',
        '--image',
        'rondo-test-web:nope',
        '--wait',
      ],
      env,
    );
    expect(res.status).toBe(1);
    expect(res.stdout).toMatch(/Status:\s+failed/);
    expect(res.stdout).toMatch(/Reason:\s+cannot pull image rondo-test-web:nope/);
  });

  it('builds a Git component with --follow, streaming the steps, then reuses the build', async () => {
    const repo = join(dir, 'repo');
    const r = createRepo(repo);
    mkdirSync(join(repo, 'www'));
    writeFileSync(join(repo, 'www', 'index.html'), 'from git');
    copyFileSync(execFileSync('sh', ['-c', 'command -v busybox']).toString().trim(), join(repo, 'busybox'));
    writeFileSync(
      join(repo, 'Dockerfile'),
      'FROM scratch\nCOPY busybox /bin/busybox\nCOPY www /www\nUSER 10014\nENTRYPOINT ["/bin/busybox", "httpd", "-f", "-p", "8080", "-h", "/www"]\n',
    );
    r.commit({}, 'first');
    const created = await cli(
      [
        'create',
        'component',
        'site',
        '--project',
        'shop',
        '--repo',
        `file://${repo}`,
        '--build-preset',
        'dockerfile',
        '--build-configs',
        'dockerFilePath=Dockerfile',
        '--port',
        '8080',
      ],
      env,
    );
    expect(created.status).toBe(0);
    const built = await cli(['build', 'site', '--project', 'shop', '--follow'], env);
    expect(built.stderr).toMatch(/--- init\nfetching file:\/\/.*\n[\s\S]*--- push\n/);
    expect(built.stdout).toMatch(/Status:\s+succeeded/);
    expect(built.status).toBe(0);
    const again = await cli(['build', 'site', '--project', 'shop'], env);
    expect(again.stderr).toMatch(/reusing that build/);
    const list = await cli(['list', 'builds', '--project', 'shop', '--component', 'site', '-o', 'json'], env);
    const [only] = JSON.parse(list.stdout).items;
    expect(JSON.parse(list.stdout).items).toHaveLength(1);
    const log = await cli(['logs', 'build', '--build-id', only.id, '--follow'], env);
    expect(log.stdout).toMatch(/^--- init\n[\s\S]*--- push\n[\s\S]*--- succeeded\n$/);
    const described = await cli(['describe', 'build', only.id], env);
    expect(described.stdout).toMatch(/Status:\s+succeeded/);
    const cancel = await cli(['cancel', 'build', only.id], env);
    expect(cancel.status).toBe(1);
    expect(cancel.stderr).toMatch(/already ended \(succeeded\)/);
  });
});
