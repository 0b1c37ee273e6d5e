import { checkDnsLabel } from '../domain/names.js';
import type { Store } from '../store/store.js';
import { newId } from './ids.js';
import { insertOrganization } from './organizations.js';
import { generateToken, insertToken } from './tokens.js';

export interface BootstrapOptions {
  orgName: string;
  /** Use this token for the admin instead of generating one (unattended installs). */
  token?: string;
}

/**
 * On the first start (no users yet) creates the admin user, the first organization with the admin
 * as its member, and an admin token. Returns the token so the caller can show it once; returns
 * `undefined` when the store was already bootstrapped.
 */
export async function bootstrap(
  store: Store,
  options: BootstrapOptions,
): Promise<{ token: string } | undefined> {
  const orgProblem = checkDnsLabel(options.orgName);
  if (orgProblem) throw new Error(`RONDO_BOOTSTRAP_ORG '${options.orgName}' ${orgProblem}`);
  if (options.token !== undefined && options.token.length < 20) {
    throw new Error(
      'RONDO_BOOTSTRAP_TOKEN must be at least 20 characters; use a random value such as `openssl rand -hex 32`',
    );
  }
  return store.db.transaction().execute(async (tx) => {
    // Lock so two control planes starting together on one PostgreSQL do not both bootstrap.
    await tx
      .selectFrom('rondo_migrations_lock' as never)
      .selectAll()
      .forUpdate()
      .execute();
    const existing = await tx.selectFrom('users').select('id').limit(1).executeTakeFirst();
    if (existing) return undefined;
    const userId = newId('usr');
    await tx
      .insertInto('users')
      .values({
        id: userId,
        name: 'admin',
        display_name: 'Administrator',
        platform_admin: true,
        default_org: options.orgName,
      })
      .execute();
    await insertOrganization(tx, { name: options.orgName }, userId);
    const token = options.token ?? generateToken();
    await insertToken(
      tx,
      userId,
      { name: 'bootstrap', scopes: ['read', 'write', 'admin'] },
      token,
      new Date(),
    );
    return { token };
  });
}
