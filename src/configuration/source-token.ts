import type { RequestContext } from '../control/context.js';
import { mutateInOrg, readInOrg } from '../control/org-access.js';
import { invalid } from '../domain/errors.js';
import { isSshPrivateKey } from '../domain/source.js';
import type { Keyring } from '../secrets/envelope.js';
import type { Executor } from '../store/store.js';
import { type ConfigDeps, findComponentIds, storeValue } from './config-entries.js';

/**
 * The credential of a component's private repository (§4, F3): an access token for https URLs or
 * an SSH private key (a deploy key) for ssh URLs. Stored like a secret
 * configuration value (encrypted, write-only), but never injected into replicas; only git sees it,
 * through its environment, when a build fetches the source.
 */
export async function setSourceToken(
  deps: ConfigDeps,
  ctx: RequestContext,
  orgName: string,
  project: string,
  component: string,
  token: string | null,
): Promise<void> {
  if (token !== null && !isSshPrivateKey(token) && (!token.trim() || /[\0\r\n]/.test(token)))
    throw invalid([
      {
        field: 'token',
        message:
          'must be an access token (one line, without control characters) or an SSH private key (as ssh-keygen writes it, for ssh URLs)',
      },
    ]);
  const { org } = await readInOrg(deps, ctx, orgName);
  const c = await findComponentIds(deps.store.db, org.id, project, component);
  const audit = {
    permission: 'component:write',
    action: token === null ? 'component.source-token.remove' : 'component.source-token.set',
    resourceType: 'component',
    resource: `${project}/${component}`,
  } as const;
  await mutateInOrg(deps, ctx, orgName, audit, async (tx) => {
    let valueId: string | null = null;
    if (token !== null) valueId = await storeValue(tx, deps.keyring, org.id, c.id, Buffer.from(token.trim()));
    await tx
      .updateTable('components')
      .set({ source_token_value_id: valueId, updated_at: new Date() })
      .where('id', '=', c.id)
      .execute();
  });
}

/** The decrypted token for a build, or undefined when the repository is public. */
export async function sourceTokenOf(
  db: Executor,
  keyring: Keyring,
  componentId: string,
): Promise<string | undefined> {
  const row = await db
    .selectFrom('components as c')
    .innerJoin('config_values as v', 'v.id', 'c.source_token_value_id')
    .select(['v.id', 'v.key_id', 'v.wrapped_key', 'v.ciphertext'])
    .where('c.id', '=', componentId)
    .executeTakeFirst();
  if (!row) return undefined;
  return keyring
    .decrypt({ keyId: row.key_id, wrappedKey: row.wrapped_key, ciphertext: row.ciphertext }, row.id)
    .toString('utf8');
}
