import { Writable } from 'node:stream';
import { sql } from 'kysely';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRondo, type Rondo } from '../../src/server.js';
import { injector, type TestRondo } from '../helpers/rondo.js';
import { createTestDatabase, DRIVERS } from '../helpers/stores.js';

const PLANTED = 'planted-value-q7x2';

/**
 * G2 #15: a database error is logged with the query's shape, never the values it carried, and
 * an expected refusal (4xx, a 503 for a part that is not there) at info without a stack.
 */
describe.each(DRIVERS)('the server log on %s', (driver) => {
  let rondo: Rondo;
  let call: TestRondo['call'];
  let drop: (() => Promise<void>) | undefined;
  const lines: Record<string, unknown>[] = [];
  const token = `rondo_test_${Math.random().toString(36).slice(2)}_admin_token`;

  beforeAll(async () => {
    const pg = driver === 'postgres' ? await createTestDatabase() : undefined;
    drop = pg?.drop;
    const sink = new Writable({
      write(chunk, _encoding, done) {
        lines.push(JSON.parse(chunk.toString()));
        done();
      },
    });
    rondo = await createRondo(
      {
        host: '127.0.0.1',
        port: 0,
        dataDir: 'memory://',
        ...(pg ? { databaseUrl: pg.url } : {}),
        bootstrapOrg: 'default',
        bootstrapToken: token,
        logLevel: 'info',
      },
      pino({ level: 'info' }, sink),
    );
    call = injector(rondo, token);
    // A constraint the API does not know about: the insert fails inside the database.
    await sql`alter table projects add constraint planted check (description <> ${sql.lit(PLANTED)})`.execute(
      rondo.store.db,
    );
  });
  afterAll(async () => {
    await rondo.close();
    await drop?.();
  });

  const linesOf = (reqId: string) => lines.filter((l) => l.reqId === reqId);

  it('logs a failed query by its shape, without the values it was given', async () => {
    const res = await call('POST', '/api/v1/orgs/default/projects', {
      body: { name: 'leaky', description: PLANTED },
    });
    expect(res.status).toBe(500);
    const logged = linesOf(res.body.instance);
    const failure = logged.find((l) => l.msg === 'request failed');
    expect(failure?.level).toBe(50);
    expect(failure?.err).toMatchObject({
      type: 'DatabaseError',
      code: '23514',
      query: expect.stringMatching(/^insert into "projects" .*\$1/),
      constraint: 'planted',
    });
    expect(JSON.stringify(logged)).not.toContain(PLANTED);
  });

  it('logs an expected 503 at info, without a stack', async () => {
    const res = await call('GET', '/api/v1/orgs/default/projects/shop/components/api/deployments');
    expect(res.status).toBe(503);
    const logged = linesOf(res.body.instance);
    expect(logged.find((l) => l.msg === 'request refused')).toMatchObject({
      level: 30,
      code: 'RONDO_ERR_UNAVAILABLE',
    });
    expect(logged.every((l) => (l.level as number) < 40)).toBe(true);
    expect(JSON.stringify(logged)).not.toMatch(/stack|\n\s+at /);
  });

  it('logs a refusal (400) at info, without a stack', async () => {
    const res = await call('POST', '/api/v1/orgs/default/projects', { body: { name: 'Bad Name' } });
    expect(res.status).toBe(400);
    const logged = linesOf(res.body.instance);
    expect(logged.find((l) => l.msg === 'request refused')).toMatchObject({
      level: 30,
      code: 'RONDO_ERR_INPUT_INVALID',
    });
    expect(logged.every((l) => (l.level as number) < 40)).toBe(true);
  });
});
