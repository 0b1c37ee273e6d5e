import { randomBytes } from 'node:crypto';
import type { Store } from '../store/store.js';

/**
 * This installation's id, created once. It is the `rondo.instance` label on everything Rondo
 * creates in a data plane, so two installations (or test runs) sharing an engine never touch
 * each other's containers.
 */
export async function installationId(store: Store): Promise<string> {
  const fresh = randomBytes(4).toString('hex');
  await store.db
    .insertInto('settings')
    .values({ key: 'instance', value: JSON.stringify(fresh) })
    .onConflict((oc) => oc.column('key').doNothing())
    .execute();
  const row = await store.db
    .selectFrom('settings')
    .select('value')
    .where('key', '=', 'instance')
    .executeTakeFirstOrThrow();
  return row.value as string;
}
