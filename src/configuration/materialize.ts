import type { ConfigItem } from '../domain/configuration.js';
import type { Keyring } from '../secrets/envelope.js';
import type { Executor } from '../store/store.js';

/** A frozen configuration turned back into what a replica gets, in memory only. */
export interface MaterializedConfig {
  env: Record<string, string>;
  files: { path: string; content: Buffer; secret: boolean }[];
  /** Every secret plaintext, so that text shown to people (replica logs, reasons) can be redacted. */
  secrets: string[];
}

export async function materialize(
  db: Executor,
  keyring: Keyring,
  items: readonly ConfigItem[],
): Promise<MaterializedConfig> {
  // Keys are the user's (`__proto__` is a valid variable name): no prototype to swallow them.
  const out: MaterializedConfig = { env: Object.create(null), files: [], secrets: [] };
  if (items.length === 0) return out;
  const rows = await db
    .selectFrom('config_values')
    .select(['id', 'key_id', 'wrapped_key', 'ciphertext'])
    .where(
      'id',
      'in',
      items.map((i) => i.valueId),
    )
    .execute();
  const byId = new Map(rows.map((r) => [r.id, r]));
  for (const item of items) {
    const r = byId.get(item.valueId);
    if (!r) throw new Error(`configuration value ${item.valueId} of ${item.key} is missing from the store`);
    const bytes = keyring.decrypt(
      { keyId: r.key_id, wrappedKey: r.wrapped_key, ciphertext: r.ciphertext },
      r.id,
    );
    if (item.kind === 'env') out.env[item.key] = bytes.toString('utf8');
    else out.files.push({ path: item.key, content: bytes, secret: item.secret });
    if (item.secret) out.secrets.push(bytes.toString('utf8'));
  }
  return out;
}

/** Replaces every secret value (at least 4 characters: shorter ones would mask ordinary text) with ***. */
export function redact(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const s of secrets) {
    for (const line of s.split('\n')) {
      if (line.trim().length >= 4) out = out.split(line).join('***');
    }
  }
  return out;
}
