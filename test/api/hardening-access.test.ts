import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestRondo, type TestRondo, userWithRole } from '../helpers/rondo.js';
import { DRIVERS, snapshotButAudit } from '../helpers/stores.js';

type Json = Record<string, unknown>;
type Event = { actor: string; action: string; resource: string; outcome: string; org: string | null } & Json;

/** Every table but the audit log: a refusal writes its audit event and nothing else. */
const everythingButAudit = (t: TestRondo) => snapshotButAudit(t.rondo.store);

function expectProblem(res: { status: number; headers: Json; body: Json }, status: number, code: string) {
  expect(res.status, JSON.stringify(res.body)).toBe(status);
  expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
  expect(res.body).toMatchObject({ status, code, detail: expect.any(String), fix: expect.any(String) });
}

describe.each(DRIVERS)('authorization and audit hardening on %s', (driver) => {
  let t: TestRondo;
  let viewer: string;
  let readOnly: string;
  let writeOnly: string;
  let outsider: string;
  beforeAll(async () => {
    t = await startTestRondo(driver);
    viewer = await userWithRole(t, 'vic', 'viewer');
    await userWithRole(t, 'dana', 'developer');
    // The bootstrap admin's own tokens with less power than the bootstrap token.
    readOnly = (await t.call('POST', '/api/v1/tokens', { body: { name: 'ro', scopes: ['read'] } })).body
      .token;
    writeOnly = (await t.call('POST', '/api/v1/tokens', { body: { name: 'rw', scopes: ['read', 'write'] } }))
      .body.token;
    // otto administers `rival` only; tess shares `third` with him; neither is in `default`.
    await t.call('POST', '/api/v1/orgs', { body: { name: 'rival' } });
    await t.call('POST', '/api/v1/orgs', { body: { name: 'third' } });
    for (const name of ['otto', 'tess']) await t.call('POST', '/api/v1/users', { body: { name } });
    await t.call('PUT', '/api/v1/orgs/rival/members/otto', { body: { role: 'admin' } });
    await t.call('PUT', '/api/v1/orgs/third/members/otto', { body: { role: 'viewer' } });
    await t.call('PUT', '/api/v1/orgs/third/members/tess', { body: { role: 'viewer' } });
    outsider = (await t.call('POST', '/api/v1/users/otto/tokens', { body: { name: 't' } })).body.token;
    await t.call('POST', '/api/v1/orgs/default/projects', { body: { name: 'shop' } });
    await t.call('POST', '/api/v1/orgs/default/projects/shop/components', {
      body: {
        name: 'api',
        type: 'service',
        source: { repoUrl: 'https://github.com/acme/shop.git' },
        buildPreset: 'nodejs',
      },
    });
  });
  afterAll(() => t.close());

  const platformEvents = async (query = 'limit=500'): Promise<Event[]> =>
    (await t.call('GET', `/api/v1/audit?${query}`)).body.items;

  describe('token routes honour the token scope', () => {
    it('refuses a read-only token creating a token for itself or another user, changing nothing but the audit log', async () => {
      const before = await everythingButAudit(t);
      const own = await t.call('POST', '/api/v1/tokens', {
        body: { name: 'x', scopes: ['read'] },
        token: readOnly,
      });
      expectProblem(own, 403, 'RONDO_ERR_AUTH_SCOPE');
      expect(own.body.detail).toMatch(/'write'/);
      const other = await t.call('POST', '/api/v1/users/vic/tokens', {
        body: { name: 'x', scopes: ['read'] },
        token: readOnly,
      });
      expectProblem(other, 403, 'RONDO_ERR_AUTH_SCOPE');
      expect(await everythingButAudit(t)).toBe(before);
      const denied = await platformEvents('action=token.create&outcome=denied');
      expect(denied.map((e) => e.resource)).toEqual(expect.arrayContaining(['admin/x', 'vic/x']));
    });

    it('refuses a read-only token revoking any token, and a token without `admin` revoking another user’s', async () => {
      const vics = await t.call('GET', '/api/v1/tokens', { token: viewer });
      const vicTokenId = vics.body.items[0].id as string;
      const ownId = (await t.call('GET', '/api/v1/tokens', { token: readOnly })).body.items.find(
        (x: { name: string }) => x.name === 'ro',
      ).id as string;
      const before = await everythingButAudit(t);
      expectProblem(
        await t.call('DELETE', `/api/v1/tokens/${vicTokenId}`, { token: readOnly }),
        403,
        'RONDO_ERR_AUTH_SCOPE',
      );
      expectProblem(
        await t.call('DELETE', `/api/v1/tokens/${ownId}`, { token: readOnly }),
        403,
        'RONDO_ERR_AUTH_SCOPE',
      );
      const noAdmin = await t.call('DELETE', `/api/v1/tokens/${vicTokenId}`, { token: writeOnly });
      expectProblem(noAdmin, 403, 'RONDO_ERR_AUTH_SCOPE');
      expect(noAdmin.body.detail).toMatch(/'admin'/);
      expect(await everythingButAudit(t)).toBe(before);
      expect((await t.call('GET', '/api/v1/me', { token: viewer })).status).toBe(200);
      const denied = await platformEvents('action=token.revoke&outcome=denied');
      expect(denied.filter((e) => e.resource === vicTokenId)).toHaveLength(2);
    });

    it('still lets a write token manage its own tokens and a platform admin’s full token revoke anyone’s', async () => {
      const made = await t.call('POST', '/api/v1/tokens', {
        body: { name: 'own', scopes: ['read'] },
        token: writeOnly,
      });
      expect(made.status).toBe(201);
      expect(
        (await t.call('DELETE', `/api/v1/tokens/${made.body.info.id}`, { token: writeOnly })).status,
      ).toBe(204);
      const spare = await t.call('POST', '/api/v1/users/dana/tokens', { body: { name: 'spare' } });
      expect(spare.status).toBe(201);
      expect((await t.call('DELETE', `/api/v1/tokens/${spare.body.info.id}`)).status).toBe(204);
      expectProblem(
        await t.call('GET', '/api/v1/me', { token: spare.body.token }),
        401,
        'RONDO_ERR_AUTH_TOKEN_REVOKED',
      );
    });
  });

  describe('adding members does not enumerate users', () => {
    it('answers a user outside the admin’s organizations exactly like a name that does not exist', async () => {
      const before = await everythingButAudit(t);
      const existing = await t.call('PUT', '/api/v1/orgs/rival/members/dana', {
        body: { role: 'viewer' },
        token: outsider,
      });
      const missing = await t.call('PUT', '/api/v1/orgs/rival/members/ghost', {
        body: { role: 'viewer' },
        token: outsider,
      });
      expectProblem(existing, 404, 'RONDO_ERR_NOT_FOUND');
      expectProblem(missing, 404, 'RONDO_ERR_NOT_FOUND');
      expect(existing.body.detail).toBe("user 'dana' was not found");
      expect(missing.body.detail).toBe("user 'ghost' was not found");
      expect({ ...existing.body, detail: 0, instance: 0 }).toEqual({
        ...missing.body,
        detail: 0,
        instance: 0,
      });
      expect(await everythingButAudit(t)).toBe(before);
      // The probe is recorded where only platform admins read it, never in rival's own log.
      const probes = await platformEvents('action=member.set&outcome=denied&actor=otto');
      expect(probes.map((e) => e.resource)).toEqual(expect.arrayContaining(['dana', 'ghost']));
      expect(probes.every((e) => (e.detail as Json).org === 'rival')).toBe(true);
      const rivalLog = await t.call('GET', '/api/v1/orgs/rival/audit?limit=500', { token: outsider });
      expect(JSON.stringify(rivalLog.body)).not.toContain('dana');
    });

    it('lets an organization admin add a user who shares another of their organizations', async () => {
      const res = await t.call('PUT', '/api/v1/orgs/rival/members/tess', {
        body: { role: 'developer' },
        token: outsider,
      });
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ user: 'tess', role: 'developer' });
    });
  });

  describe('every refusal is audited', () => {
    it('records a viewer reading the audit log and a non-admin listing users', async () => {
      expectProblem(
        await t.call('GET', '/api/v1/orgs/default/audit', {
          token: viewer,
          headers: { 'x-request-id': 'viewer-audit' },
        }),
        403,
        'RONDO_ERR_AUTH_FORBIDDEN',
      );
      const log = (await t.call('GET', '/api/v1/orgs/default/audit?outcome=denied&actor=vic&limit=500')).body
        .items;
      expect(log.find((e: Event) => e.requestId === 'viewer-audit')).toMatchObject({
        org: 'default',
        action: 'audit.read',
        outcome: 'denied',
        detail: { code: 'RONDO_ERR_AUTH_FORBIDDEN' },
      });
      expectProblem(
        await t.call('GET', '/api/v1/users', { token: viewer, headers: { 'x-request-id': 'viewer-users' } }),
        403,
        'RONDO_ERR_AUTH_FORBIDDEN',
      );
      const events = await platformEvents('action=user.list');
      expect(events.find((e) => e.requestId === 'viewer-users')).toMatchObject({
        actor: 'vic',
        outcome: 'denied',
      });
    });

    it('records a request into another organization at platform level, not in that organization', async () => {
      const res = await t.call('GET', '/api/v1/orgs/default/projects', {
        token: outsider,
        headers: { 'x-request-id': 'cross-org' },
      });
      expectProblem(res, 404, 'RONDO_ERR_NOT_FOUND');
      const missing = await t.call('DELETE', '/api/v1/orgs/nowhere/projects/shop', {
        token: outsider,
        headers: { 'x-request-id': 'no-such-org' },
      });
      expectProblem(missing, 404, 'RONDO_ERR_NOT_FOUND');
      const events = await platformEvents('actor=otto&outcome=denied');
      expect(events.find((e) => e.requestId === 'cross-org')).toMatchObject({
        org: null,
        action: 'organization.read',
        detail: { org: 'default', code: 'RONDO_ERR_NOT_FOUND' },
      });
      expect(events.find((e) => e.requestId === 'no-such-org')).toMatchObject({
        action: 'project.delete',
        detail: { org: 'nowhere' },
      });
      const defaultLog = await t.call('GET', '/api/v1/orgs/default/audit?actor=otto');
      expect(defaultLog.body.items).toEqual([]);
    });

    it('records failed authentication with the source address and the token’s owner when known, never the token', async () => {
      const wrong = 'rondo_wrong_token_that_nobody_has_0123456789';
      expectProblem(
        await t.call('GET', '/api/v1/me', { token: wrong, headers: { 'x-request-id': 'bad-token' } }),
        401,
        'RONDO_ERR_AUTH_TOKEN_INVALID',
      );
      const doomed = await t.call('POST', '/api/v1/users/vic/tokens', { body: { name: 'doomed' } });
      await t.call('DELETE', `/api/v1/tokens/${doomed.body.info.id}`);
      await t.call('GET', '/api/v1/me', {
        token: doomed.body.token,
        headers: { 'x-request-id': 'revoked-token' },
      });
      const events = await platformEvents('action=token.authenticate');
      expect(events.find((e) => e.requestId === 'bad-token')).toMatchObject({
        org: null,
        actor: 'anonymous',
        outcome: 'denied',
        sourceIp: '127.0.0.1',
        detail: { code: 'RONDO_ERR_AUTH_TOKEN_INVALID' },
      });
      expect(events.find((e) => e.requestId === 'revoked-token')).toMatchObject({
        actor: 'vic',
        resource: doomed.body.info.id,
        detail: { code: 'RONDO_ERR_AUTH_TOKEN_REVOKED' },
      });
      const stored = JSON.stringify(await t.rondo.store.db.selectFrom('audit_events').selectAll().execute());
      expect(stored).not.toContain(wrong);
      expect(stored).not.toContain(doomed.body.token);
    });

    it('serves the platform log to platform admins only, paged and filtered', async () => {
      const denied = await t.call('GET', '/api/v1/audit', {
        token: outsider,
        headers: { 'x-request-id': 'otto-platform' },
      });
      expectProblem(denied, 403, 'RONDO_ERR_AUTH_FORBIDDEN');
      const all = await platformEvents();
      expect(all.length).toBeGreaterThan(5);
      expect(all.every((e) => e.org === null)).toBe(true);
      expect(all.find((e) => e.requestId === 'otto-platform')).toMatchObject({
        action: 'audit.read',
        outcome: 'denied',
      });
      expect(all.map((e) => e.action)).toEqual(
        expect.arrayContaining(['user.create', 'organization.create']),
      );
      const first = await t.call('GET', '/api/v1/audit?limit=2');
      const second = await t.call('GET', `/api/v1/audit?limit=2&cursor=${first.body.nextCursor}`);
      const ids = [...first.body.items, ...second.body.items].map((e: { id: string }) => Number(e.id));
      expect(ids).toEqual([...ids].sort((a, b) => b - a));
      expect(new Set(ids).size).toBe(4);
      const onlyDenied = await platformEvents('outcome=denied&limit=500');
      expect(onlyDenied.every((e) => e.outcome === 'denied')).toBe(true);
      expectProblem(await t.call('GET', '/api/v1/audit?outcome=maybe'), 400, 'RONDO_ERR_INPUT_INVALID');
    });
  });

  describe('webhook URLs and headers', () => {
    const WEBHOOK = '/api/v1/orgs/default/projects/shop/components/api/webhook';

    it('never builds webhook URLs from the request’s Host header', async () => {
      const rotated = await t.call('POST', `${WEBHOOK}/secret`, { headers: { host: 'evil.example' } });
      expect(rotated.status).toBe(200);
      const shown = await t.call('GET', WEBHOOK, { headers: { host: 'evil.example' } });
      expect(shown.status).toBe(200);
      for (const body of [shown.body, rotated.body]) {
        const urls = Object.values(body.urls as Record<string, string>);
        expect(urls.length).toBeGreaterThan(0);
        for (const url of urls) expect(new URL(url).hostname).toBe('127.0.0.1');
        expect(JSON.stringify(body)).not.toContain('evil.example');
      }
    });

    it('marks every answer nosniff and every answer carrying a secret no-store', async () => {
      const answers = [
        await t.call('GET', '/api/v1/me'),
        await t.call('GET', '/api/v1/me', { token: null }),
        await t.call('GET', '/api/v1/no/such/route'),
        await t.call('POST', '/api/v1/orgs/default/projects', { body: { name: 'Bad Name' } }),
        await t.call('POST', '/api/v1/orgs/default/projects', {
          raw: '{',
          headers: { 'content-type': 'application/json' },
        }),
        await t.call('GET', '/api/v1/healthz', { token: null }),
        await t.call('GET', '/api/v1/openapi.json', { token: null }),
        // Refused before routing: no route hook runs for it.
        await t.call('GET', '/api/v1/orgs/%E0%A4%A/projects'),
      ];
      for (const res of answers)
        expect(res.headers['x-content-type-options'], String(res.status)).toBe('nosniff');
      const secrets = [
        await t.call('POST', '/api/v1/tokens', { body: { name: 'cached?' } }),
        await t.call('POST', '/api/v1/users/dana/tokens', { body: { name: 'cached?' } }),
        await t.call('POST', `${WEBHOOK}/secret`),
      ];
      for (const res of secrets) {
        expect(res.status).toBeLessThan(300);
        expect(res.headers['cache-control']).toBe('no-store');
        expect(res.headers['x-content-type-options']).toBe('nosniff');
      }
    });
  });
});
