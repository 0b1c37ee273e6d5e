import { type Kysely, sql, type Transaction } from 'kysely';
import type { Database } from '../store/schema.js';
import type { Store } from '../store/store.js';
import { dataPlaneAad, dataPlaneRegistryAad } from './aad.js';
import type { Envelope, Keyring } from './envelope.js';
import type { MasterKeyFile } from './master-key.js';

/**
 * Master key rotation (§5), without downtime: (1) a new key is saved beside the old one and becomes
 * the wrapping key (the keyring keeps the old one for reading); (2) every data key is re-wrapped in
 * one transaction; (3) after the commit the new key replaces the old file. Values are never
 * re-encrypted and never pass through plaintext storage. Without a key file (an in-memory store)
 * only the in-memory keyring rotates.
 */
export function beginRotation(
  keyring: Keyring,
  file: MasterKeyFile | undefined,
  generate: () => Buffer,
): void {
  keyring.use(file ? file.prepareNext() : generate());
}

/** Step 2, inside the caller's transaction. Returns how many data keys were re-wrapped. */
export async function rewrapIn(tx: Transaction<Database>, keyring: Keyring): Promise<number> {
  // Writers that encrypted with the old key commit before we read; later ones use the new key.
  await sql`lock table config_values in exclusive mode`.execute(tx);
  const rows = await tx
    .selectFrom('config_values')
    .select(['id', 'key_id', 'wrapped_key', 'ciphertext'])
    .where('key_id', '!=', keyring.currentKeyId)
    .execute();
  for (const r of rows) {
    const next = keyring.rewrap(
      { keyId: r.key_id, wrappedKey: r.wrapped_key, ciphertext: r.ciphertext },
      r.id,
    );
    await tx
      .updateTable('config_values')
      .set({ key_id: next.keyId, wrapped_key: next.wrappedKey })
      .where('id', '=', r.id)
      .execute();
  }
  return rows.length + (await rewrapDataPlanes(tx, keyring));
}

/**
 * Kubernetes data planes keep their kubeconfig as an envelope in `config.kubeconfig`, and their
 * registry's pull credentials as another in `config.registry.credentials`.
 */
async function rewrapDataPlanes(tx: Transaction<Database>, keyring: Keyring): Promise<number> {
  // Creating a data plane takes `row exclusive` before it encrypts, so it waits for this or we for it.
  await sql`lock table data_planes in exclusive mode`.execute(tx);
  const rows = await tx.selectFrom('data_planes').select(['id', 'config']).execute();
  let rewrapped = 0;
  const stale = (e: unknown): e is Envelope => isEnvelope(e) && e.keyId !== keyring.currentKeyId;
  for (const r of rows) {
    const envelope = r.config.kubeconfig as Envelope | undefined;
    const registry = r.config.registry as { credentials?: Envelope } | undefined;
    const pull = registry?.credentials;
    if (!stale(envelope) && !stale(pull)) continue;
    const config = { ...r.config };
    if (stale(envelope)) config.kubeconfig = keyring.rewrap(envelope, dataPlaneAad(r.id));
    if (stale(pull))
      config.registry = { ...registry, credentials: keyring.rewrap(pull, dataPlaneRegistryAad(r.id)) };
    await tx
      .updateTable('data_planes')
      .set({ config: JSON.stringify(config) })
      .where('id', '=', r.id)
      .execute();
    rewrapped++;
  }
  return rewrapped;
}

function isEnvelope(v: unknown): v is Envelope {
  if (typeof v !== 'object' || v === null) return false;
  const e = v as Record<string, unknown>;
  return typeof e.keyId === 'string' && typeof e.wrappedKey === 'string' && typeof e.ciphertext === 'string';
}

export function finishRotation(file: MasterKeyFile | undefined): void {
  file?.commitNext();
}

/** Steps 2 and 3 on their own transaction: finishing a rotation a crash cut short, at start-up. */
export async function rewrapAll(store: Store, keyring: Keyring): Promise<number> {
  return (store.db as Kysely<Database>).transaction().execute((tx) => rewrapIn(tx, keyring));
}
