import { type Kysely, sql } from 'kysely';

// G4: console sessions. A browser exchanges a personal access token for one; only the SHA-256 of
// the session secret is stored, as for tokens.
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('sessions')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
    // The token signed in with: its revocation or expiry ends the session too. Null is left for
    // sign-ins that use no token (OIDC), whose scopes are the session's own.
    .addColumn('token_id', 'text', (c) => c.references('tokens.id').onDelete('cascade'))
    .addColumn('hash', 'text', (c) => c.notNull().unique())
    .addColumn('scopes', 'jsonb', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('expires_at', 'timestamptz', (c) => c.notNull())
    .addColumn('revoked_at', 'timestamptz')
    .execute();
  await db.schema.createIndex('sessions_user').on('sessions').column('user_id').execute();
}
