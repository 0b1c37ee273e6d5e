import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { logSafeError } from '../../src/store/query-errors.js';
import { DRIVERS, openTestStore } from '../helpers/stores.js';

const PLANTED = 'planted-value-k3m9';

/** What the log gets of a database error: where it failed, never the values (G2 #15). */
describe.each(DRIVERS)('database errors in the log on %s', (driver) => {
  let handle: Awaited<ReturnType<typeof openTestStore>>;
  beforeAll(async () => {
    handle = await openTestStore(driver);
  });
  afterAll(() => handle.cleanup());

  async function failure(run: () => Promise<unknown>): Promise<unknown> {
    try {
      await run();
    } catch (err) {
      return err;
    }
    throw new Error('the query did not fail');
  }

  it('keeps the SQLSTATE and the query shape, and drops a value quoted in the message', async () => {
    const err = await failure(() => sql`select ${PLANTED}::int`.execute(handle.store.db));
    const logged = logSafeError(err);
    expect(logged).toEqual({
      type: 'DatabaseError',
      code: '22P02',
      message: 'invalid input syntax for type integer: "…"',
      query: 'select $1::int',
    });
  });

  it('drops the values of a failing row, also inside an error that wraps it', async () => {
    const err = await failure(() =>
      handle.store.db
        .insertInto('settings')
        .values({ key: PLANTED, value: JSON.stringify('\u0000') })
        .execute(),
    );
    const wrapped = new Error('could not record', { cause: err });
    const text = JSON.stringify(logSafeError(wrapped));
    expect(text).not.toContain(PLANTED);
    expect(text).toContain('insert into \\"settings\\"');
    expect(text).toContain('could not record');
  });
});
