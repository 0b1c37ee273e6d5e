import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestRondo, type TestRondo, userWithRole } from '../helpers/rondo.js';

/** The `name=value` of a Set-Cookie header, for sending it back. */
function cookieOf(setCookie: unknown): string {
  const header = Array.isArray(setCookie) ? setCookie[0] : setCookie;
  return String(header).split(';')[0]!;
}

describe('console sessions', () => {
  let t: TestRondo;
  beforeAll(async () => {
    t = await startTestRondo('pglite');
  });
  afterAll(async () => t?.close());

  async function signIn(token = t.adminToken) {
    const res = await t.call('POST', '/api/v1/session', { token });
    expect(res.status).toBe(201);
    return { cookie: cookieOf(res.headers['set-cookie']), csrf: res.body.csrfToken as string, res };
  }

  it('exchanges a token for an HttpOnly, SameSite=Strict cookie with an expiry, not Secure over plain HTTP', async () => {
    const { res, cookie } = await signIn();
    const flags = String(res.headers['set-cookie']);
    expect(flags).toMatch(/^rondo_session=[A-Za-z0-9_-]{43};/);
    expect(flags).toMatch(/; HttpOnly/);
    expect(flags).toMatch(/; SameSite=Strict/);
    expect(flags).toMatch(/; Path=\//);
    expect(flags).toMatch(/; Expires=/);
    expect(flags).not.toMatch(/Secure/);
    expect(res.headers['cache-control']).toBe('no-store');
    expect(cookie).not.toContain(t.adminToken);
    const me = await t.call('GET', '/api/v1/me', { token: null, headers: { cookie } });
    expect(me.status).toBe(200);
    expect(me.body.name).toBe('admin');
  });

  it('stores only the hash of the session secret', async () => {
    const { cookie } = await signIn();
    const secret = cookie.split('=')[1]!;
    const rows = await t.rondo.store.db.selectFrom('sessions').selectAll().execute();
    expect(rows.length).toBeGreaterThan(0);
    expect(JSON.stringify(rows)).not.toContain(secret);
  });

  it('refuses a change made with the cookie but without the CSRF token, and changes nothing', async () => {
    const { cookie, csrf } = await signIn();
    const body = { name: 'csrf-proj' };
    const bare = await t.call('POST', '/api/v1/orgs/default/projects', {
      token: null,
      headers: { cookie },
      body,
    });
    expect(bare.status).toBe(403);
    expect(bare.body.code).toBe('RONDO_ERR_AUTH_CSRF');
    const wrong = await t.call('POST', '/api/v1/orgs/default/projects', {
      token: null,
      headers: { cookie, 'x-rondo-csrf': `${csrf.slice(0, -1)}x` },
      body,
    });
    expect(wrong.status).toBe(403);
    expect((await t.call('GET', '/api/v1/orgs/default/projects/csrf-proj')).status).toBe(404);
    const ok = await t.call('POST', '/api/v1/orgs/default/projects', {
      token: null,
      headers: { cookie, 'x-rondo-csrf': csrf },
      body,
    });
    expect(ok.status).toBe(201);
  });

  it('gives the CSRF token again to the page that holds the cookie (after a reload)', async () => {
    const { cookie, csrf } = await signIn();
    const again = await t.call('GET', '/api/v1/session', { token: null, headers: { cookie } });
    expect(again.status).toBe(200);
    expect(again.body.csrfToken).toBe(csrf);
  });

  it('signs out: the session is revoked server-side and the cookie cleared', async () => {
    const { cookie, csrf } = await signIn();
    const refused = await t.call('DELETE', '/api/v1/session', { token: null, headers: { cookie } });
    expect(refused.status).toBe(403);
    const out = await t.call('DELETE', '/api/v1/session', {
      token: null,
      headers: { cookie, 'x-rondo-csrf': csrf },
    });
    expect(out.status).toBe(204);
    expect(String(out.headers['set-cookie'])).toMatch(/^rondo_session=;.*Expires=Thu, 01 Jan 1970/);
    const after = await t.call('GET', '/api/v1/me', { token: null, headers: { cookie } });
    expect(after.status).toBe(401);
    expect(after.body.code).toBe('RONDO_ERR_AUTH_SESSION_ENDED');
    const audit = await t.call('GET', '/api/v1/audit?action=session.delete');
    expect(JSON.stringify(audit.body)).toContain('session.delete');
  });

  it('ends with the token it was made from', async () => {
    const token = await userWithRole(t, 'sessioned', 'developer');
    const { cookie } = await signIn(token);
    const tokens = await t.call('GET', '/api/v1/tokens', { token });
    const id = tokens.body.items[0].id as string;
    expect((await t.call('DELETE', `/api/v1/tokens/${id}`, { token })).status).toBe(204);
    const after = await t.call('GET', '/api/v1/me', { token: null, headers: { cookie } });
    expect(after.status).toBe(401);
    expect(after.body.code).toBe('RONDO_ERR_AUTH_SESSION_ENDED');
  });

  it('refuses an unknown session cookie and a sign-in with a bad token', async () => {
    const unknown = await t.call('GET', '/api/v1/me', {
      token: null,
      headers: { cookie: 'rondo_session=not-a-session' },
    });
    expect(unknown.status).toBe(401);
    expect(unknown.body.code).toBe('RONDO_ERR_AUTH_SESSION_ENDED');
    const bad = await t.call('POST', '/api/v1/session', { token: 'rondo_wrong' });
    expect(bad.status).toBe(401);
    expect(bad.headers['set-cookie']).toBeUndefined();
  });

  it('keeps bearer tokens working, and a bearer header wins over a cookie', async () => {
    const res = await t.call('GET', '/api/v1/me', { headers: { cookie: 'rondo_session=stale' } });
    expect(res.status).toBe(200);
    const created = await t.call('POST', '/api/v1/orgs/default/projects', { body: { name: 'bearer-proj' } });
    expect(created.status).toBe(201);
  });
});
