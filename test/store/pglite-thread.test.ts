import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { isMainThread } from 'node:worker_threads';
import { PGlite } from '@electric-sql/pglite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { storeConfigOf } from '../../src/server.js';
import { PGLITE_START_PARAMS } from '../../src/store/pglite-init.js';
import { PGliteThread } from '../../src/store/pglite-thread.js';

describe('PGlite on its own thread', () => {
  let db: PGliteThread;
  beforeAll(async () => {
    db = await PGliteThread.open('memory://', PGLITE_START_PARAMS);
  });
  afterAll(() => db?.close());

  it('returns the rows PGlite on the calling thread returns (dates, bytes, JSON, int8)', async () => {
    expect(isMainThread).toBe(true);
    const sql =
      "select $1::timestamptz as at, $2::bytea as bytes, $3::jsonb as doc, 42::int8 as small, 9007199254740993::int8 as big, 'a\u00e9' as text";
    const at = new Date('2026-12-01T01:02:03.456Z');
    const params = [at, new Uint8Array([0, 1, 254, 255]), JSON.stringify({ a: [1, { b: null }] })];
    const local = await PGlite.create('memory://', { startParams: PGLITE_START_PARAMS });
    try {
      const expected = (await local.query(sql, params)).rows;
      expect(expected).toMatchObject([{ at, doc: { a: [1, { b: null }] }, text: 'a\u00e9' }]);
      expect((await db.query(sql, params)).rows).toEqual(expected);
    } finally {
      await local.close();
    }
  });

  it('counts affected rows and keeps a transaction across calls', async () => {
    await db.query('create table t (id int primary key, v text)', []);
    await db.query('begin', []);
    expect((await db.query('insert into t values (1, $1), (2, $1)', ['x'])).affectedRows).toBe(2);
    await db.query('rollback', []);
    expect((await db.query('select count(*)::int as n from t', [])).rows).toEqual([{ n: 0 }]);
  });

  it('rejects with the database error’s own fields (SQLSTATE, constraint, severity)', async () => {
    await db.query('insert into t values (7, $1)', ['first']);
    const err = await db.query('insert into t values (7, $1)', ['again']).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    expect(err).toMatchObject({ code: '23505', constraint: 't_pkey', severity: 'ERROR' });
    expect((err as Error).message).toMatch(/duplicate key value violates unique constraint "t_pkey"/);
    // The thread goes on answering after an error.
    expect((await db.query('select v from t where id = 7', [])).rows).toEqual([{ v: 'first' }]);
  });

  it('delivers notifications to listeners until they stop listening', async () => {
    const got: string[] = [];
    const unlisten = await db.listen('changes', (payload) => got.push(payload));
    await db.query("select pg_notify('changes', 'one')", []);
    await unlisten();
    await db.query("select pg_notify('changes', 'two')", []);
    await db.query('select 1', []);
    expect(got).toEqual(['one']);
  });

  it('refuses work once closed, with a reason', async () => {
    const other = await PGliteThread.open('memory://', PGLITE_START_PARAMS);
    await other.close();
    await expect(other.query('select 1', [])).rejects.toThrow(/closed/);
  });

  it('runs at a lower priority when asked, leaving the calling thread’s as it was', async () => {
    const nice = () =>
      new Map(
        readdirSync('/proc/self/task').map((tid) => {
          const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
          // Fields after the command's closing parenthesis; nice is the 19th field of the line.
          return [tid, Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16])];
        }),
      );
    const before = nice();
    const low = await PGliteThread.open('memory://', PGLITE_START_PARAMS, 10);
    try {
      expect((await low.query('select 1 as n', [])).rows).toEqual([{ n: 1 }]);
      const after = nice();
      const added = [...after].filter(([tid]) => !before.has(tid)).map(([, n]) => n);
      expect(added).toContain(10);
      expect(after.get(String(process.pid))).toBe(before.get(String(process.pid)));
      expect([...after].filter(([tid]) => before.has(tid)).every(([tid, n]) => n === before.get(tid))).toBe(
        true,
      );
    } finally {
      await low.close();
    }
  });

  it('keeps no process alive when idle: a script that forgets to close still exits', () => {
    const script = [
      "import { PGliteThread } from './src/store/pglite-thread.ts';",
      "import { PGLITE_START_PARAMS } from './src/store/pglite-init.ts';",
      "const db = await PGliteThread.open('memory://', PGLITE_START_PARAMS);",
      "const { rows } = await db.query('select 41 + 1 as n', []);",
      'console.log(rows[0].n);',
    ].join('\n');
    const out = execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: process.cwd(),
      timeout: 60_000,
      encoding: 'utf8',
    });
    expect(out.trim()).toBe('42');
  });

  it('is the default; RONDO_PGLITE_THREAD=main keeps the server’s thread; anything else is refused', () => {
    const env = { RONDO_DATA_DIR: '/tmp/rondo-config-test' };
    expect(storeConfigOf(loadConfig({}, env))).toEqual({
      driver: 'pglite',
      dataDir: '/tmp/rondo-config-test/store',
      logsDataDir: '/tmp/rondo-config-test/log-store',
    });
    expect(storeConfigOf(loadConfig({}, { ...env, RONDO_PGLITE_THREAD: 'main' }))).toMatchObject({
      thread: 'main',
    });
    expect(() => loadConfig({}, { ...env, RONDO_PGLITE_THREAD: 'fibre' })).toThrow(
      /RONDO_PGLITE_THREAD must be worker or main, got 'fibre'/,
    );
  });
});
