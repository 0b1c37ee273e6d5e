import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashApiKey } from '../../src/endpoint-policies/api-keys.js';
import {
  jwksToPem,
  policyKey,
  refreshJwks,
  routePolicies,
} from '../../src/endpoint-policies/gateway-policies.js';
import { createRondo } from '../../src/server.js';
import { injector, type TestRondo, userWithRole } from '../helpers/rondo.js';
import { createTestDatabase, DRIVERS, snapshot } from '../helpers/stores.js';

const EP = '/api/v1/orgs/default/projects/shop/components/api/endpoints/books';
const POLICIES = `${EP}/policies?environment=development`;
const KEYS = `${EP}/api-keys?environment=development`;

describe.each(DRIVERS)('endpoint policies and API keys through the API (%s)', (driver) => {
  let t: TestRondo;
  let viewer: string;
  let outsider: string;
  const logLines: string[] = [];
  const pem = generateKeyPairSync('ec', { namedCurve: 'P-256' })
    .publicKey.export({ type: 'spki', format: 'pem' })
    .toString();

  beforeAll(async () => {
    const pgdb = driver === 'postgres' ? await createTestDatabase() : undefined;
    const adminToken = `rondo_test_${randomBytes(8).toString('hex')}_admin_token`;
    // Every log line at debug, searched for the keys at the end.
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        logLines.push(chunk.toString('utf8'));
        done();
      },
    });
    const rondo = await createRondo(
      {
        host: '127.0.0.1',
        port: 0,
        dataDir: 'memory://',
        ...(pgdb ? { databaseUrl: pgdb.url } : {}),
        bootstrapOrg: 'default',
        bootstrapToken: adminToken,
        logLevel: 'debug',
      },
      pino({ level: 'debug' }, sink),
    );
    t = {
      rondo,
      adminToken,
      call: injector(rondo, adminToken),
      close: async () => {
        await rondo.close();
        await pgdb?.drop();
      },
    };
    await t.call('POST', '/api/v1/orgs/default/projects', { body: { name: 'shop' } });
    const c = await t.call('POST', '/api/v1/orgs/default/projects/shop/components', {
      body: {
        name: 'api',
        type: 'service',
        source: { image: 'busybox:1' },
        endpoints: [{ name: 'books', port: 8080 }],
      },
    });
    expect(c.status, JSON.stringify(c.body)).toBe(201);
    viewer = await userWithRole(t, 'vera', 'viewer');
    // An outsider: admin of another organization that has the same names.
    await t.call('POST', '/api/v1/orgs', { body: { name: 'rival' } });
    outsider = await userWithRole(t, 'otto', 'viewer');
  });
  afterAll(async () => t?.close());

  it('stores a valid policy and reads it back, audited', async () => {
    const policy = {
      rateLimit: { requests: 100, per: 'minute', burst: 20 },
      consumerRateLimit: { requests: 5, per: 'second' },
      apiKey: {},
      jwt: { issuer: 'https://id.example/', audience: 'books', algorithms: ['ES256'], publicKeyPem: pem },
      cors: { origins: ['https://app.example'] },
    };
    const put = await t.call('PUT', POLICIES, { body: { policy } });
    expect(put.status, JSON.stringify(put.body)).toBe(200);
    expect(put.body.policy).toMatchObject({
      apiKey: { header: 'api-key' },
      cors: { origins: ['https://app.example'], maxAgeSeconds: 600, credentials: false },
    });
    const get = await t.call('GET', POLICIES);
    expect(get.body.policy).toEqual(put.body.policy);
    expect(get.body.updatedBy).toBe('admin');
    const audit = await t.call('GET', '/api/v1/orgs/default/audit');
    expect(JSON.stringify(audit.body)).toContain('endpoint-policy.set');
  });

  it.each([
    [{ rateLimit: { requests: 0, per: 'minute' } }, 'policy.rateLimit.requests'],
    [{ rateLimit: { requests: 10, per: 'hour' } }, 'policy.rateLimit.per'],
    [{ rateLimit: { requests: 10, per: 'second', burst: 2 } }, 'policy.rateLimit.burst'],
    [
      { jwt: { issuer: 'x', audience: 'y', algorithms: ['none'], publicKeyPem: 'p' } },
      'policy.jwt.algorithms.0',
    ],
    [{ jwt: { issuer: 'x', audience: 'y', algorithms: ['RS256'] } }, 'policy.jwt.publicKeyPem'],
    [
      { jwt: { issuer: 'a b', audience: 'y', algorithms: ['RS256'], jwksUrl: 'https://k/' } },
      'policy.jwt.issuer',
    ],
    [{ cors: { origins: ['javascript:alert(1)'] } }, 'policy.cors.origins.0'],
    [{ cors: { origins: ['*'], credentials: true } }, 'policy.cors.origins'],
    [{ apiKey: { header: 'bad header' } }, 'policy.apiKey.header'],
    [{ surprise: true }, 'policy'],
  ])('refuses %j with 400 naming %s, changing nothing', async (policy, field) => {
    const before = await snapshot(t.rondo.store);
    const res = await t.call('PUT', POLICIES, { body: { policy } });
    expect(res.status).toBe(400);
    expect(res.headers['content-type']).toContain('application/problem+json');
    expect(JSON.stringify(res.body)).toContain(`"${field}`);
    expect(await snapshot(t.rondo.store)).toBe(before);
  });

  it('answers 404 for an unknown endpoint or environment, and for another organization', async () => {
    expect(
      (await t.call('GET', `${EP.replace('books', 'nope')}/policies?environment=development`)).status,
    ).toBe(404);
    expect((await t.call('GET', `${EP}/policies?environment=nowhere`)).status).toBe(404);
    const rival = POLICIES.replace('/orgs/default/', '/orgs/rival/');
    expect((await t.call('GET', rival, { token: outsider })).status).toBe(404);
    expect((await t.call('GET', POLICIES.replace('/orgs/default/', '/orgs/rival/'))).status).toBe(404);
  });

  it('lets a viewer read but not change a policy or make keys', async () => {
    expect((await t.call('GET', POLICIES, { token: viewer })).status).toBe(200);
    expect((await t.call('PUT', POLICIES, { token: viewer, body: { policy: {} } })).status).toBe(403);
    expect((await t.call('POST', KEYS, { token: viewer, body: { consumer: 'mallory' } })).status).toBe(403);
  });

  it('shows a key once, stores only its hash, lists and revokes it; the gateway gets the live hashes', async () => {
    expect((await t.call('PUT', POLICIES, { body: { policy: { apiKey: {} } } })).status).toBe(200);
    const created = await t.call('POST', KEYS, { body: { consumer: 'alice' } });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const key = created.body.key as string;
    expect(created.headers['cache-control']).toBe('no-store');
    expect(key).toMatch(/^rak_[A-Za-z0-9_-]{43}$/);
    const second = await t.call('POST', KEYS, { body: { consumer: 'alice' } });
    const list = await t.call('GET', KEYS);
    expect(list.body.items.map((k: { consumer: string }) => k.consumer)).toEqual(['alice', 'alice']);
    expect(JSON.stringify(list.body)).not.toContain(key);
    expect(JSON.stringify(await t.call('GET', POLICIES))).not.toContain(key);
    // The database holds the hash, never the key.
    const dump = await snapshot(t.rondo.store);
    expect(dump).not.toContain(key);
    expect(dump).toContain(hashApiKey(key));
    expect(logLines.length).toBeGreaterThan(0);
    expect(logLines.join('')).not.toContain(key);

    const component = await t.rondo.store.db.selectFrom('components').select('id').executeTakeFirstOrThrow();
    const env = await t.rondo.store.db
      .selectFrom('environments')
      .select('id')
      .where('name', '=', 'development')
      .executeTakeFirstOrThrow();
    const scope = policyKey(component.id, 'books', env.id);
    const live = async () =>
      (await routePolicies(t.rondo.store.db)).get(scope)?.apiKey?.keys.map((k) => k.sha256);
    expect(await live()).toEqual(expect.arrayContaining([hashApiKey(key), hashApiKey(second.body.key)]));

    const revoked = await t.call('DELETE', `${EP}/api-keys/${created.body.id}?environment=development`);
    expect(revoked.status).toBe(200);
    expect(revoked.body.revokedAt).not.toBeNull();
    expect(await live()).toEqual([hashApiKey(second.body.key)]);
    expect((await t.call('DELETE', `${EP}/api-keys/akey_nope?environment=development`)).status).toBe(404);
    const bad = await t.call('POST', KEYS, { body: { consumer: 'Not A Name' } });
    expect(bad.status).toBe(400);
    expect(JSON.stringify(bad.body)).toContain('"consumer"');
  });

  it('fetches JWKS keys in the background into PEM, keeping the last good ones on a failure', async () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ format: 'jwk' });
    const put = await t.call('PUT', POLICIES, {
      body: {
        policy: {
          jwt: {
            issuer: 'https://id.example/',
            audience: 'books',
            algorithms: ['RS256'],
            jwksUrl: 'https://id.example/jwks',
          },
        },
      },
    });
    expect(put.status).toBe(200);
    expect(put.body.jwks).toEqual({ keys: 0, fetchedAt: null, error: null });
    expect(
      await refreshJwks(t.rondo.store.db, async () => ({ keys: [{ ...rsa, kid: 'k1', use: 'sig' }] })),
    ).toEqual({
      refreshed: 1,
      failed: 0,
    });
    const policies = await routePolicies(t.rondo.store.db);
    const jwt = [...policies.values()][0]?.jwt;
    expect(jwt?.keys).toEqual([{ kid: 'k1', pem: expect.stringContaining('BEGIN PUBLIC KEY') }]);
    await refreshJwks(t.rondo.store.db, async () => {
      throw new Error('connection refused');
    });
    const after = await t.call('GET', POLICIES);
    expect(after.body.jwks).toMatchObject({ keys: 1, error: 'connection refused' });
    expect(() => jwksToPem({ nope: 1 })).toThrow(/JWKS/);
  });
});
