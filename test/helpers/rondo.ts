import { pino } from 'pino';
import type { RondoConfig } from '../../src/config.js';
import type { PlatformConfig } from '../../src/platform-config.js';
import { createRondo, type Rondo } from '../../src/server.js';
import { createTestDatabase, type Driver } from './stores.js';

export interface TestRondo {
  rondo: Rondo;
  /** The bootstrap admin's token (platform admin, admin of org `default`). */
  adminToken: string;
  /** The PostgreSQL database's URL (the postgres driver), for a second control plane on it. */
  storeUrl?: string;
  /** Calls the API in-process (no network), as the given token (default: the admin). */
  call(
    method: string,
    url: string,
    options?: { body?: unknown; token?: string | null; headers?: Record<string, string>; raw?: string },
  ): Promise<TestResponse>;
  close(): Promise<void>;
}

export interface TestResponse {
  status: number;
  headers: import('node:http').OutgoingHttpHeaders;
  // biome-ignore lint/suspicious/noExplicitAny: assertions read arbitrary JSON shapes
  body: any;
}

/** `call` for a control plane: in-process requests (inject), as `adminToken` unless told otherwise. */
export function injector(rondo: Rondo, adminToken: string): TestRondo['call'] {
  return async (method, url, options = {}) => {
    const token = options.token === undefined ? adminToken : options.token;
    const headers: Record<string, string> = { ...options.headers };
    if (token !== null) headers.authorization = `Bearer ${token}`;
    let payload: string | undefined = options.raw;
    if (options.body !== undefined) {
      payload = JSON.stringify(options.body);
      headers['content-type'] ??= 'application/json';
    }
    const res = await rondo.api.inject({
      method: method as 'GET',
      url,
      headers,
      ...(payload === undefined ? {} : { payload }),
    });
    let body: unknown = res.body;
    try {
      body = res.body ? JSON.parse(res.body) : undefined;
    } catch {
      // leave non-JSON bodies as text
    }
    return { status: res.statusCode, headers: res.headers, body };
  };
}

/**
 * A control plane on a fresh store of the given driver, with the bootstrap admin ready; with
 * `platform`, it deploys and builds too. `close()` also drops the PostgreSQL test database.
 */
/**
 * `dataDir` puts an embedded store in a directory, as a site runs it (initialised in a child
 * process); by default it is in memory, initialised in this process.
 */
export async function startTestRondo(
  driver: Driver,
  platform?: PlatformConfig,
  dataDir = 'memory://',
  more: Partial<RondoConfig> = {},
): Promise<TestRondo> {
  const pgdb = driver === 'postgres' ? await createTestDatabase() : undefined;
  const adminToken = `rondo_test_${Math.random().toString(36).slice(2)}_admin_token`;
  const rondo = await createRondo(
    {
      host: '127.0.0.1',
      port: 0,
      dataDir,
      ...(pgdb ? { databaseUrl: pgdb.url } : {}),
      bootstrapOrg: 'default',
      bootstrapToken: adminToken,
      logLevel: 'silent',
      ...(platform ? { platform } : {}),
      ...more,
    },
    pino({ level: process.env.RONDO_TEST_LOG ?? 'silent' }),
  );
  return {
    rondo,
    adminToken,
    ...(pgdb ? { storeUrl: pgdb.url } : {}),
    call: injector(rondo, adminToken),
    async close() {
      await rondo.close();
      await pgdb?.drop();
    },
  };
}

/** Creates a user with a role in `default` and returns a token for them. */
export async function userWithRole(
  t: TestRondo,
  name: string,
  role: 'admin' | 'developer' | 'viewer',
  scopes?: string[],
): Promise<string> {
  const u = await t.call('POST', '/api/v1/users', { body: { name } });
  if (u.status !== 201) throw new Error(`create user ${name}: ${u.status} ${JSON.stringify(u.body)}`);
  const m = await t.call('PUT', `/api/v1/orgs/default/members/${name}`, { body: { role } });
  if (m.status !== 200) throw new Error(`set member ${name}: ${m.status}`);
  const tok = await t.call('POST', `/api/v1/users/${name}/tokens`, {
    body: { name: 'test', ...(scopes ? { scopes } : {}) },
  });
  if (tok.status !== 201) throw new Error(`token ${name}: ${tok.status} ${JSON.stringify(tok.body)}`);
  return tok.body.token as string;
}
