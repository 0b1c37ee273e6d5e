import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRepo } from '../helpers/git.js';
import { buildWebImage, cleanupInstance, docker, removeImagesLabelled } from '../helpers/images.js';
import { gatewayGet, platformServerEnv, startRegistry, startServerGateway } from '../helpers/platform.js';
import { cleanEnv, cli, ensureBuilt, type ServerProcess, startServer } from '../helpers/processes.js';

const TOKEN = 'rondo_cli_deploy_test_admin_token_0123456789';

describe('rondo deploy from the CLI', () => {
  const dir = mkdtempSync(join(tmpdir(), 'rondo-cli-deploy-'));
  let gateway: Awaited<ReturnType<typeof startServerGateway>>;
  let server: ServerProcess;
  let registry: Awaited<ReturnType<typeof startRegistry>>;
  let publicPort = 0;
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    ensureBuilt();
    await buildWebImage('rondo-test-web:v1', { body: 'hello v1' });
    registry = await startRegistry(dir);
    const serverEnv = {
      ...(await platformServerEnv(join(dir, 'data'), TOKEN)),
      RONDO_REGISTRY_LISTEN: registry.addr,
    };
    gateway = await startServerGateway(serverEnv);
    publicPort = Number(serverEnv.RONDO_GATEWAY_PORT);
    server = await startServer(serverEnv);
    env = cleanEnv({ HOME: dir, RONDO_SERVER: server.url, RONDO_TOKEN: TOKEN });
  });
  afterAll(async () => {
    const [c] = await docker.listContainers({
      filters: { label: ['rondo.component=hello', 'rondo.project=shop'] },
    });
    await server?.stop();
    const instance = c?.Labels['rondo.instance'];
    if (instance) await cleanupInstance(instance);
    await gateway?.stop();
    registry?.stop();
    if (instance) await removeImagesLabelled(`rondo.built-by=${instance}`);
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
    expect(described.stdout).toMatch(
      /development: \d{8}-1\.0\.1 active rondo-test-web:v1, 1\/1 ready, 0 restarts/,
    );
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
  it('sets config and secrets, shows pending changes, promotes, rolls back and approves from the CLI', async () => {
    const planted = `cli-planted-${Math.random().toString(36).slice(2)}`;
    const run = async (args: string[], input?: string) => {
      const res = await cli(args, env, input);
      expect(res.stdout + res.stderr).not.toContain(planted);
      return res;
    };
    const set = await run([
      'config',
      'set',
      'hello',
      'GREETING=hi',
      'MODE=fast',
      '--project',
      'shop',
      '--env',
      'development',
    ]);
    expect(set.status).toBe(0);
    expect(set.stdout).toMatch(/GREETING\s+env\s+hi\s+1/);
    // Secret values come from stdin or a file; there is no way to give one on the command line.
    expect(
      (await run(['secret', 'set', 'hello', 'API_TOKEN', '--project', 'shop'], `${planted}\n`)).status,
    ).toBe(0);
    writeFileSync(join(dir, 'key.pem'), planted);
    expect(
      (
        await run([
          'secret',
          'set',
          'hello',
          '/etc/app/key.pem',
          '--from-file',
          join(dir, 'key.pem'),
          '--project',
          'shop',
        ])
      ).status,
    ).toBe(0);
    expect((await run(['secret', 'set', 'hello', 'X', planted, '--project', 'shop'])).status).toBe(2);
    const secrets = await run(['secret', 'list', 'hello', '--project', 'shop']);
    expect(secrets.stdout).toMatch(/API_TOKEN\s+env\s+\(secret\)/);
    expect(secrets.stdout).toMatch(/\/etc\/app\/key.pem\s+file\s+\(secret\)/);
    const pending = await run(['describe', 'component', 'hello', '--project', 'shop']);
    expect(pending.stdout).toMatch(
      /pending config \(deploy to apply\): \+\/etc\/app\/key.pem \+API_TOKEN \+GREETING \+MODE/,
    );

    const applied = await run(['deploy', 'hello', '--project', 'shop', '--env', 'development', '--wait']);
    // Release 2 was the image that failed to pull above; this is release 3 with development's revision 1.
    expect(applied.stdout).toMatch(/Deployment:\s+\d{8}-3\.1\.1/);
    const promoted = await run(['promote', 'hello', '--project', 'shop', '--wait']);
    expect(promoted.status).toBe(0);
    expect(promoted.stdout).toMatch(/Environment:\s+production/);
    const rolled = await run(['rollback', 'hello', '--project', 'shop', '--env', 'development', '--wait']);
    expect(rolled.status).toBe(0);
    expect(rolled.stdout).toMatch(/Deployment:\s+\d{8}-1\.0\.2/);
    const list = await run([
      'list',
      'deployments',
      '--project',
      'shop',
      '--component',
      'hello',
      '--env',
      'development',
    ]);
    expect(list.stdout).toMatch(/NAME\s+ENVIRONMENT\s+STATUS\s+ACTION/);
    expect(list.stdout).toMatch(/\d{8}-1\.0\.2\s+development\s+active\s+rollback/);

    const admins = await fetch(`${server.url}/api/v1/orgs/default/environments/production/approval-policy`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ roles: ['admin'], required: 1 }),
    });
    expect(admins.status).toBe(200);
    const asked = await run(['promote', 'hello', '--project', 'shop', '--comment', 'please']);
    expect(asked.stderr).toMatch(/needs approval/);
    const id = /Approval request:\s+(apr_\S+)/.exec(asked.stdout)![1]!;
    const approvals = await run(['list', 'approvals', '--status', 'pending']);
    expect(approvals.stdout).toContain(id);
    const self = await run(['approve', id]);
    expect(self.status).toBe(1);
    expect(self.stderr).toMatch(/another reviewer/);
    const cancelled = await run(['approval', 'cancel', id]);
    expect(cancelled.stdout).toMatch(/Status:\s+cancelled/);
  });
});
