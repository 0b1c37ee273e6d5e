import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestRondo, type TestRondo } from '../helpers/rondo.js';
import { DRIVERS } from '../helpers/stores.js';

describe.each(DRIVERS)('resources API on %s', (driver) => {
  let t: TestRondo;
  beforeAll(async () => {
    t = await startTestRondo(driver);
  });
  afterAll(() => t.close());

  it('creates an organization with its defaults: local data plane, development, production, default pipeline', async () => {
    expect(
      (await t.call('POST', '/api/v1/orgs', { body: { name: 'acme', displayName: 'Acme Inc.' } })).status,
    ).toBe(201);
    const envs = await t.call('GET', '/api/v1/orgs/acme/environments');
    expect(
      envs.body.items.map((e: { name: string; production: boolean; dataPlane: string }) => [
        e.name,
        e.production,
        e.dataPlane,
      ]),
    ).toEqual([
      ['development', false, 'local'],
      ['production', true, 'local'],
    ]);
    const pipelines = await t.call('GET', '/api/v1/orgs/acme/pipelines');
    expect(pipelines.body.items).toMatchObject([
      { name: 'default', environments: ['development', 'production'], isDefault: true },
    ]);
    const planes = await t.call('GET', '/api/v1/orgs/acme/dataplanes');
    expect(planes.body.items).toMatchObject([{ name: 'local', type: 'docker' }]);
  });

  it('manages environments and pipelines, validating the promotion order', async () => {
    const staging = await t.call('POST', '/api/v1/orgs/acme/environments', {
      body: { name: 'staging', displayName: 'Staging' },
    });
    expect(staging.status).toBe(201);
    expect(staging.body).toMatchObject({ name: 'staging', production: false, dataPlane: 'local' });

    const repeat = await t.call('POST', '/api/v1/orgs/acme/pipelines', {
      body: { name: 'p', environments: ['development', 'development'] },
    });
    expect(repeat.status).toBe(400);
    expect(repeat.body.errors[0]).toMatchObject({
      field: 'environments.1',
      message: expect.stringMatching(/twice/),
    });
    const foreign = await t.call('POST', '/api/v1/orgs/acme/pipelines', {
      body: { name: 'p', environments: ['development', 'qa'] },
    });
    expect(foreign.body.errors[0]).toMatchObject({
      field: 'environments.1',
      message: expect.stringMatching(/'qa' does not exist/),
    });

    const three = await t.call('POST', '/api/v1/orgs/acme/pipelines', {
      body: { name: 'three-stage', environments: ['development', 'staging', 'production'], isDefault: true },
    });
    expect(three.status).toBe(201);
    const list = await t.call('GET', '/api/v1/orgs/acme/pipelines');
    expect(list.body.items.map((p: { name: string; isDefault: boolean }) => [p.name, p.isDefault])).toEqual([
      ['default', false],
      ['three-stage', true],
    ]);

    const patched = await t.call('PATCH', '/api/v1/orgs/acme/environments/staging', {
      body: { displayName: 'Stage' },
    });
    expect(patched.body.displayName).toBe('Stage');
    const prodOnly = await t.call('GET', '/api/v1/orgs/acme/environments?production=true');
    expect(prodOnly.body.items.map((e: { name: string }) => e.name)).toEqual(['production']);
  });

  it('refuses to delete an environment a pipeline goes through or something is deployed to', async () => {
    const inPipeline = await t.call('DELETE', '/api/v1/orgs/acme/environments/staging');
    expect(inPipeline.status).toBe(409);
    expect(inPipeline.body.detail).toMatch(/three-stage/);

    await t.call('POST', '/api/v1/orgs/acme/environments', { body: { name: 'sandbox' } });
    await t.call('POST', '/api/v1/orgs/acme/projects', { body: { name: 'shop' } });
    const c = await t.call('POST', '/api/v1/orgs/acme/projects/shop/components', {
      body: { name: 'web', type: 'web-app', source: { image: 'nginx:1.25' } },
    });
    const env = await t.call('GET', '/api/v1/orgs/acme/environments/sandbox');
    const org = await t.rondo.store.db
      .selectFrom('organizations')
      .select('id')
      .where('name', '=', 'acme')
      .executeTakeFirstOrThrow();
    await t.rondo.store.db
      .insertInto('deployments')
      .values({
        id: 'dep_1',
        org_id: org.id,
        component_id: c.body.id,
        environment_id: env.body.id,
        status: 'active',
        spec: JSON.stringify({ image: 'busybox', replicas: 1, endpoints: [], env: {} }),
      })
      .execute();
    const deployed = await t.call('DELETE', '/api/v1/orgs/acme/environments/sandbox');
    expect(deployed.status).toBe(409);
    expect(deployed.body.detail).toMatch(/web/);

    await t.rondo.store.db
      .updateTable('deployments')
      .set({ status: 'superseded' })
      .where('id', '=', 'dep_1')
      .execute();
    expect((await t.call('DELETE', '/api/v1/orgs/acme/environments/sandbox')).status).toBe(204);
    expect((await t.call('GET', '/api/v1/orgs/acme/environments/sandbox')).status).toBe(404);
  });

  it('creates projects on the default pipeline or a chosen one', async () => {
    const shop = await t.call('GET', '/api/v1/orgs/acme/projects/shop');
    expect(shop.body.pipeline).toBe('three-stage');
    const other = await t.call('POST', '/api/v1/orgs/acme/projects', {
      body: { name: 'billing', pipeline: 'default', description: 'Invoices' },
    });
    expect(other.body).toMatchObject({ name: 'billing', pipeline: 'default', description: 'Invoices' });
    const moved = await t.call('PATCH', '/api/v1/orgs/acme/projects/billing', {
      body: { pipeline: 'three-stage' },
    });
    expect(moved.body.pipeline).toBe('three-stage');
  });

  it('creates Git and image components, with Choreo type aliases and build configs', async () => {
    const api = await t.call('POST', '/api/v1/orgs/acme/projects/shop/components', {
      body: {
        name: 'api',
        type: 'service',
        source: { repoUrl: 'https://github.com/acme/shop.git', path: './services/api' },
        buildPreset: 'nodejs',
        buildConfigs: { buildPackLangVersion: '20' },
        autoBuild: true,
      },
    });
    expect(api.status).toBe(201);
    expect(api.body).toMatchObject({
      type: 'service',
      source: {
        kind: 'git',
        repoUrl: 'https://github.com/acme/shop.git',
        branch: 'main',
        path: 'services/api',
      },
      buildPreset: 'nodejs',
      buildConfigs: { buildPackLangVersion: '20' },
      autoBuild: true,
      autoDeploy: false,
    });
    const job = await t.call('POST', '/api/v1/orgs/acme/projects/shop/components', {
      body: {
        name: 'nightly',
        type: 'scheduleTask',
        source: { repoUrl: 'git@github.com:acme/jobs.git' },
        buildPreset: 'python',
        buildConfigs: { buildPackLangVersion: '3.11' },
      },
    });
    expect(job.body.type).toBe('scheduled-task');

    const patched = await t.call('PATCH', '/api/v1/orgs/acme/projects/shop/components/api', {
      body: { source: { branch: 'release' }, autoDeploy: true },
    });
    expect(patched.body.source).toMatchObject({ branch: 'release', path: 'services/api' });
    expect(patched.body.autoDeploy).toBe(true);
    const badPatch = await t.call('PATCH', '/api/v1/orgs/acme/projects/shop/components/api', {
      body: { buildConfigs: { dockerFilePath: 'Dockerfile' } },
    });
    expect(badPatch.status).toBe(400);
    expect((await t.call('GET', '/api/v1/orgs/acme/projects/shop/components/api')).body.buildConfigs).toEqual(
      { buildPackLangVersion: '20' },
    );
  });

  it('lists components with cursor pagination and filters', async () => {
    for (const n of ['c1', 'c2', 'c3', 'c4', 'c5']) {
      await t.call('POST', '/api/v1/orgs/acme/projects/billing/components', {
        body: { name: n, type: 'manual-task', source: { image: `jobs/${n}:1` } },
      });
    }
    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await t.call(
        'GET',
        `/api/v1/orgs/acme/components?limit=3${cursor ? `&cursor=${cursor}` : ''}`,
      );
      expect(page.status).toBe(200);
      seen.push(...page.body.items.map((c: { project: string; name: string }) => `${c.project}/${c.name}`));
      cursor = page.body.nextCursor;
    } while (cursor);
    expect(seen).toEqual([
      'billing/c1',
      'billing/c2',
      'billing/c3',
      'billing/c4',
      'billing/c5',
      'shop/api',
      'shop/nightly',
      'shop/web',
    ]);

    const tasks = await t.call('GET', '/api/v1/orgs/acme/components?type=manualTask');
    expect(tasks.body.items).toHaveLength(5);
    const inShop = await t.call('GET', '/api/v1/orgs/acme/projects/shop/components');
    expect(inShop.body.items.map((c: { name: string }) => c.name)).toEqual(['api', 'nightly', 'web']);
    const badCursor = await t.call('GET', '/api/v1/orgs/acme/components?cursor=garbage');
    expect(badCursor.status).toBe(400);
    expect(badCursor.body.errors[0].field).toBe('cursor');
  });

  it('deletes in dependency order: a project with components is refused', async () => {
    const refused = await t.call('DELETE', '/api/v1/orgs/acme/projects/billing');
    expect(refused.status).toBe(409);
    for (const n of ['c1', 'c2', 'c3', 'c4', 'c5']) {
      expect((await t.call('DELETE', `/api/v1/orgs/acme/projects/billing/components/${n}`)).status).toBe(204);
    }
    expect((await t.call('DELETE', '/api/v1/orgs/acme/projects/billing')).status).toBe(204);
    expect((await t.call('DELETE', '/api/v1/orgs/acme/pipelines/three-stage')).status).toBe(409);
  });

  it('serves an OpenAPI 3.1 document describing every route', async () => {
    const doc = await t.call('GET', '/api/v1/openapi.json', { token: null });
    expect(doc.status).toBe(200);
    expect(doc.body.openapi).toBe('3.1.0');
    expect(Object.keys(doc.body.paths)).toEqual(
      expect.arrayContaining([
        '/api/v1/orgs/{org}/projects/{project}/components',
        '/api/v1/orgs/{org}/environments',
        '/api/v1/orgs/{org}/audit',
      ]),
    );
    const create = doc.body.paths['/api/v1/orgs/{org}/projects']?.post;
    expect(create.requestBody.content['application/json'].schema.required).toContain('name');
  });

  it('takes `_` as the caller’s default organization', async () => {
    const res = await t.call('GET', '/api/v1/orgs/_/environments');
    expect(res.status).toBe(200);
    const direct = await t.call('GET', '/api/v1/orgs/default/environments');
    expect(res.body).toEqual(direct.body);
  });
});
