import { createHash, randomBytes } from 'node:crypto';
import type { ControlDeps, RequestContext } from '../control/context.js';
import { newId } from '../control/ids.js';
import { mutateInOrg, readInOrg } from '../control/org-access.js';
import { consumerNameSchema } from '../domain/endpoint-policy.js';
import { invalid, notFound } from '../domain/errors.js';
import { type EndpointAddress, findEndpointScope } from './policies.js';

/**
 * An endpoint's API keys per consumer (G7): random, shown once at creation, stored only as their
 * SHA-256 (the gateway matches that hash, `haproxy-policy.ts`), revoked by a timestamp so the
 * audit trail keeps what existed.
 */

export interface ApiKeyView {
  id: string;
  consumer: string;
  environment: string;
  createdBy: string;
  createdAt: string;
  revokedAt: string | null;
}

export const hashApiKey = (key: string) => createHash('sha256').update(key, 'utf8').digest('hex');

const toView = (
  r: { id: string; consumer: string; created_by: string; created_at: Date; revoked_at: Date | null },
  environment: string,
): ApiKeyView => ({
  id: r.id,
  consumer: r.consumer,
  environment,
  createdBy: r.created_by,
  createdAt: r.created_at.toISOString(),
  revokedAt: r.revoked_at?.toISOString() ?? null,
});

const resource = (a: EndpointAddress) => `${a.project}/${a.component}/${a.endpoint}@${a.environment}`;

/** Creates a key for `consumer`; the answer is the only place the key ever appears. */
export async function createApiKey(
  deps: ControlDeps,
  ctx: RequestContext,
  a: EndpointAddress,
  consumer: string,
): Promise<ApiKeyView & { key: string }> {
  const name = consumerNameSchema.safeParse(consumer);
  if (!name.success)
    throw invalid([{ field: 'consumer', message: name.error.issues[0]?.message ?? 'invalid' }]);
  const key = `rak_${randomBytes(32).toString('base64url')}`;
  return mutateInOrg(
    deps,
    ctx,
    a.org,
    {
      permission: 'component:write',
      action: 'api-key.create',
      resourceType: 'endpoint',
      resource: resource(a),
    },
    async (tx, { org }) => {
      const s = await findEndpointScope(tx, org.id, a.project, a.component, a.endpoint, a.environment);
      const row = {
        id: newId('akey'),
        org_id: org.id,
        component_id: s.componentId,
        environment_id: s.environmentId,
        endpoint: s.endpoint,
        consumer,
        key_hash: hashApiKey(key),
        created_by: ctx.actor.userName,
        created_at: deps.now?.() ?? new Date(),
        revoked_at: null,
      };
      await tx.insertInto('api_keys').values(row).execute();
      return { ...toView(row, a.environment), key };
    },
  );
}

export async function listApiKeys(
  deps: ControlDeps,
  ctx: RequestContext,
  a: EndpointAddress,
): Promise<{ items: ApiKeyView[] }> {
  const { org } = await readInOrg(deps, ctx, a.org);
  const s = await findEndpointScope(deps.store.db, org.id, a.project, a.component, a.endpoint, a.environment);
  const rows = await deps.store.db
    .selectFrom('api_keys')
    .select(['id', 'consumer', 'created_by', 'created_at', 'revoked_at'])
    .where('component_id', '=', s.componentId)
    .where('environment_id', '=', s.environmentId)
    .where('endpoint', '=', s.endpoint)
    .orderBy('created_at')
    .orderBy('id')
    .execute();
  return { items: rows.map((r) => toView(r, a.environment)) };
}

/** Revokes a key; the gateway refuses it from its next sync (a runtime map change, no reload). */
export async function revokeApiKey(
  deps: ControlDeps,
  ctx: RequestContext,
  a: EndpointAddress,
  id: string,
): Promise<ApiKeyView> {
  return mutateInOrg(
    deps,
    ctx,
    a.org,
    {
      permission: 'component:write',
      action: 'api-key.revoke',
      resourceType: 'api-key',
      resource: `${resource(a)}/${id}`,
    },
    async (tx, { org }) => {
      const s = await findEndpointScope(tx, org.id, a.project, a.component, a.endpoint, a.environment);
      const row = await tx
        .selectFrom('api_keys')
        .select(['id', 'consumer', 'created_by', 'created_at', 'revoked_at'])
        .where('id', '=', id)
        .where('component_id', '=', s.componentId)
        .where('environment_id', '=', s.environmentId)
        .where('endpoint', '=', s.endpoint)
        .executeTakeFirst();
      if (!row) throw notFound('API key', id);
      if (row.revoked_at) return toView(row, a.environment);
      const revokedAt = deps.now?.() ?? new Date();
      await tx.updateTable('api_keys').set({ revoked_at: revokedAt }).where('id', '=', id).execute();
      return toView({ ...row, revoked_at: revokedAt }, a.environment);
    },
  );
}
