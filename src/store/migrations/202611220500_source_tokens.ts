import type { Kysely } from 'kysely';

// F3: a private repository's access token, kept as an encrypted configuration value.
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('components').addColumn('source_token_value_id', 'text').execute();
}
