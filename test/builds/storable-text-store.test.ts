import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { storableJson, storableText } from '../../src/domain/storable-text.js';
import type { Store } from '../../src/store/store.js';
import { DRIVERS, openTestStore } from '../helpers/stores.js';

/** What git, the engine or a run may print: NUL, invalid UTF-8, a lone surrogate, escapes. */
const HOSTILE = [
  Buffer.concat([Buffer.from('remote: broken'), Buffer.from([0x00, 0xff, 0xc3]), Buffer.from(' pack')]),
  'lone \ud800 surrogate and \udfff another',
  'nul \u0000 in a string, \x1b[2J escape, \r carriage return',
];

describe.each(DRIVERS)('storable text in the store (%s)', (driver) => {
  let store: Store;
  let cleanup: () => Promise<void>;
  beforeAll(async () => {
    ({ store, cleanup } = await openTestStore(driver));
    await sql`create table storable_probe (id int primary key, doc jsonb not null, line text not null)`.execute(
      store.db,
    );
  });
  afterAll(() => cleanup?.());

  it('writes and reads back every hostile text in jsonb and text columns', async () => {
    for (const [i, raw] of HOSTILE.entries()) {
      const text = storableText(raw);
      await sql`insert into storable_probe values (${i}, ${storableJson({ log: raw.toString() })}::jsonb, ${text})`.execute(
        store.db,
      );
      const { rows } = await sql<{
        doc: { log: string };
        line: string;
      }>`select doc, line from storable_probe where id = ${i}`.execute(store.db);
      expect(rows[0]).toEqual({ doc: { log: storableText(raw.toString()) }, line: text });
    }
  });

  it('is needed: the raw text is refused', async () => {
    await expect(
      sql`insert into storable_probe values (99, ${JSON.stringify({ log: HOSTILE[2] })}::jsonb, 'x')`.execute(
        store.db,
      ),
    ).rejects.toThrow(/Unicode|\\u0000/);
  });
});
