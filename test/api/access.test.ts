import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestRondo, type TestRondo, userWithRole } from '../helpers/rondo.js';
import { DRIVERS } from '../helpers/stores.js';

describe.each(DRIVERS)('access and audit on %s', (driver) => {
  let t: TestRondo;
  let dev: string;
  let viewer: string;
  let outsider: string;
  beforeAll(async () => {
    t = await startTestRondo(driver);
    dev = await userWithRole(t, 'dana', 'developer');
    viewer = await userWithRole(t, 'vic', 'viewer');
    // An admin of another organization, with no membership in `default`.
    await t.call('POST', '/api/v1/orgs', { body: { name: 'rival' } });
    await t.call('POST', '/api/v1/users', { body: { name: 'otto' } });
    await t.call('PUT', '/api/v1/orgs/rival/members/otto', { body: { role: 'admin' } });
    outsider = (await t.call('POST', '/api/v1/users/otto/tokens', { body: { name: 't' } })).body.token;
    await t.call('POST', '/api/v1/orgs/default/projects', { body: { name: 'shop' } });
  });
  afterAll(() => t.close());

  it('lets developers manage projects and components but not environments or members', async () => {
    expect(
      (await t.call('POST', '/api/v1/orgs/default/projects', { body: { name: 'dev-made' }, token: dev }))
        .status,
    ).toBe(201);
    const comp = await t.call('POST', '/api/v1/orgs/default/projects/dev-made/components', {
      body: { name: 'svc', type: 'service', source: { image: 'busybox:1' } },
      token: dev,
    });
    expect(comp.status).toBe(201);
    const env = await t.call('POST', '/api/v1/orgs/default/environments', {
      body: { name: 'staging' },
      token: dev,
    });
    expect(env.status).toBe(403);
    expect(env.body.detail).toMatch(/developer/);
    expect(
      (await t.call('PUT', '/api/v1/orgs/default/members/vic', { body: { role: 'admin' }, token: dev }))
        .status,
    ).toBe(403);
    expect((await t.call('GET', '/api/v1/orgs/default/audit', { token: dev })).status).toBe(403);
  });

  it('lets viewers read everything in their organization and change nothing', async () => {
    expect((await t.call('GET', '/api/v1/orgs/default/projects', { token: viewer })).status).toBe(200);
    expect((await t.call('GET', '/api/v1/orgs/default/components', { token: viewer })).status).toBe(200);
    expect(
      (
        await t.call('PATCH', '/api/v1/orgs/default/projects/shop', {
          body: { description: 'x' },
          token: viewer,
        })
      ).status,
    ).toBe(403);
  });

  it('answers another organization’s resources exactly like missing ones', async () => {
    const theirs = await t.call('GET', '/api/v1/orgs/default/projects/shop', { token: outsider });
    const missing = await t.call('GET', '/api/v1/orgs/no-such-org/projects/shop', { token: outsider });
    expect(theirs.status).toBe(404);
    expect(missing.status).toBe(404);
    expect(theirs.body.detail).toBe("organization 'default' was not found");
    expect(missing.body.detail).toBe("organization 'no-such-org' was not found");
    expect({ ...theirs.body, instance: 0, detail: 0 }).toEqual({ ...missing.body, instance: 0, detail: 0 });
    const mutate = await t.call('DELETE', '/api/v1/orgs/default/projects/shop', { token: outsider });
    expect(mutate.status).toBe(404);
    const orgs = await t.call('GET', '/api/v1/orgs', { token: outsider });
    expect(orgs.body.items.map((o: { name: string }) => o.name)).toEqual(['rival']);
  });

  it('limits what a token may do to its scopes', async () => {
    const ro = (await t.call('POST', '/api/v1/tokens', { body: { name: 'read-only', scopes: ['read'] } }))
      .body.token;
    expect((await t.call('GET', '/api/v1/orgs/default/projects', { token: ro })).status).toBe(200);
    const write = await t.call('POST', '/api/v1/orgs/default/projects', {
      body: { name: 'nope' },
      token: ro,
    });
    expect(write.status).toBe(403);
    expect(write.body.code).toBe('RONDO_ERR_AUTH_SCOPE');
    // A read-only token cannot mint tokens at all, and no token one with more power than itself.
    const mint = await t.call('POST', '/api/v1/tokens', {
      body: { name: 'ro-2', scopes: ['read'] },
      token: ro,
    });
    expect(mint.status).toBe(403);
    expect(mint.body.code).toBe('RONDO_ERR_AUTH_SCOPE');
    const rw = (await t.call('POST', '/api/v1/tokens', { body: { name: 'rw', scopes: ['read', 'write'] } }))
      .body.token;
    const escalate = await t.call('POST', '/api/v1/tokens', {
      body: { name: 'more', scopes: ['read', 'write', 'admin'] },
      token: rw,
    });
    expect(escalate.status).toBe(400);
    expect(escalate.body.errors[0].field).toBe('scopes');
  });

  it('stores tokens only as hashes and shows them once', async () => {
    const created = await t.call('POST', '/api/v1/tokens', { body: { name: 'ci' } });
    expect(created.body.token).toMatch(/^rondo_[A-Za-z0-9_-]{43}$/);
    const rows = await t.rondo.store.db.selectFrom('tokens').selectAll().execute();
    expect(JSON.stringify(rows)).not.toContain(created.body.token);
    const listed = await t.call('GET', '/api/v1/tokens');
    expect(JSON.stringify(listed.body)).not.toContain(created.body.token);
    expect(listed.body.items.map((x: { name: string }) => x.name)).toContain('ci');
  });

  it('keeps at least one admin in every organization', async () => {
    // The platform admin who created `rival` is its first admin; after leaving, otto is the only one.
    expect((await t.call('DELETE', '/api/v1/orgs/rival/members/admin', { token: outsider })).status).toBe(
      204,
    );
    const res = await t.call('DELETE', '/api/v1/orgs/rival/members/otto', { token: outsider });
    expect(res.status).toBe(409);
    expect(res.body.code).toBe('RONDO_ERR_CONFLICT_LAST_ADMIN');
  });

  it('records every mutation and every refusal in the audit log, with actor, request id and outcome', async () => {
    await t.call('POST', '/api/v1/orgs/default/projects', {
      body: { name: 'audited' },
      headers: { 'x-request-id': 'req-audit-1' },
    });
    await t.call('POST', '/api/v1/orgs/default/projects', {
      body: { name: 'denied' },
      token: viewer,
      headers: { 'x-request-id': 'req-audit-2' },
    });
    const log = await t.call('GET', '/api/v1/orgs/default/audit?limit=500');
    const ok = log.body.items.find((e: { requestId: string }) => e.requestId === 'req-audit-1');
    expect(ok).toMatchObject({
      org: 'default',
      actor: 'admin',
      action: 'project.create',
      resourceType: 'project',
      resource: 'audited',
      outcome: 'success',
    });
    const no = log.body.items.find((e: { requestId: string }) => e.requestId === 'req-audit-2');
    expect(no).toMatchObject({
      actor: 'vic',
      action: 'project.create',
      resource: 'denied',
      outcome: 'denied',
    });

    const denied = await t.call('GET', '/api/v1/orgs/default/audit?outcome=denied&actor=vic');
    expect(denied.body.items.length).toBeGreaterThanOrEqual(2);
    expect(
      denied.body.items.every(
        (e: { actor: string; outcome: string }) => e.actor === 'vic' && e.outcome === 'denied',
      ),
    ).toBe(true);
    const byAction = await t.call('GET', '/api/v1/orgs/default/audit?action=component.create');
    expect(byAction.body.items.map((e: { resource: string }) => e.resource)).toEqual(['dev-made/svc']);
    const future = await t.call(
      'GET',
      `/api/v1/orgs/default/audit?since=${encodeURIComponent(new Date(Date.now() + 60_000).toISOString())}`,
    );
    expect(future.body.items).toEqual([]);
  });

  it('writes no audit event and no change when a mutation fails after authorization', async () => {
    const count = async () =>
      (
        await t.rondo.store.db
          .selectFrom('audit_events')
          .select((eb) => eb.fn.countAll<string>().as('n'))
          .executeTakeFirstOrThrow()
      ).n;
    const before = await count();
    const dup = await t.call('POST', '/api/v1/orgs/default/projects', { body: { name: 'shop' } });
    expect(dup.status).toBe(409);
    expect(await count()).toBe(before);
  });

  it('paginates the audit log newest first', async () => {
    const first = await t.call('GET', '/api/v1/orgs/default/audit?limit=2');
    const second = await t.call('GET', `/api/v1/orgs/default/audit?limit=2&cursor=${first.body.nextCursor}`);
    const ids = [...first.body.items, ...second.body.items].map((e: { id: string }) => Number(e.id));
    expect(ids).toEqual([...ids].sort((a, b) => b - a));
    expect(new Set(ids).size).toBe(4);
  });
});
