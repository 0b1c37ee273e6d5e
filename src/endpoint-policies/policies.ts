import type { ControlDeps, RequestContext } from '../control/context.js';
import { newId } from '../control/ids.js';
import { mutateInOrg, readInOrg } from '../control/org-access.js';
import type { EndpointSpec } from '../domain/endpoint.js';
import { type EndpointPolicy, endpointPolicySchema, hasPolicy } from '../domain/endpoint-policy.js';
import { invalid, notFound } from '../domain/errors.js';
import type { Executor } from '../store/store.js';

/**
 * API management policies (G7) of a component's endpoint per environment: read and replaced
 * whole, authorized and audited as the component's configuration (`component:write`).
 */

export interface EndpointScope {
  componentId: string;
  environmentId: string;
  endpoint: string;
}

export interface EndpointPolicyView {
  endpoint: string;
  environment: string;
  /** `{}` when the endpoint has none. */
  policy: EndpointPolicy;
  /** For a JWKS URL: how many keys Rondo holds, when it last fetched them, its last failure. */
  jwks: { keys: number; fetchedAt: string | null; error: string | null } | null;
  updatedBy: string | null;
  updatedAt: string | null;
}

/** The component, the environment and the endpoint named, or 404 (another org's are missing too). */
export async function findEndpointScope(
  db: Executor,
  orgId: string,
  project: string,
  component: string,
  endpoint: string,
  environment: string,
): Promise<EndpointScope> {
  const c = await db
    .selectFrom('components as c')
    .innerJoin('projects as p', 'p.id', 'c.project_id')
    .select(['c.id', 'c.endpoints'])
    .where('c.org_id', '=', orgId)
    .where('p.name', '=', project)
    .where('c.name', '=', component)
    .executeTakeFirst();
  if (!c) throw notFound('component', `${project}/${component}`);
  if (!(c.endpoints as EndpointSpec[]).some((e) => e.name === endpoint))
    throw notFound('endpoint', `${project}/${component}/${endpoint}`);
  const env = await db
    .selectFrom('environments')
    .select('id')
    .where('org_id', '=', orgId)
    .where('name', '=', environment)
    .executeTakeFirst();
  if (!env) throw notFound('environment', environment);
  return { componentId: c.id, environmentId: env.id, endpoint };
}

/** Parses a policy, every problem at once, each naming its field (`policy.rateLimit.requests`). */
export function parsePolicy(input: unknown): EndpointPolicy {
  const parsed = endpointPolicySchema.safeParse(input ?? {});
  if (parsed.success) return parsed.data;
  throw invalid(
    parsed.error.issues.map((i) => ({
      field: ['policy', ...i.path.map(String)].join('.'),
      message: i.message,
    })),
  );
}

function policyRow(db: Executor, s: EndpointScope) {
  return db
    .selectFrom('endpoint_policies')
    .selectAll()
    .where('component_id', '=', s.componentId)
    .where('environment_id', '=', s.environmentId)
    .where('endpoint', '=', s.endpoint)
    .executeTakeFirst();
}

async function view(db: Executor, s: EndpointScope, environment: string): Promise<EndpointPolicyView> {
  const row = await policyRow(db, s);
  const policy = row ? endpointPolicySchema.parse(row.policy) : {};
  return {
    endpoint: s.endpoint,
    environment,
    policy,
    jwks: policy.jwt?.jwksUrl
      ? {
          keys: row?.jwks_keys.length ?? 0,
          fetchedAt: row?.jwks_fetched_at?.toISOString() ?? null,
          error: row?.jwks_error ?? null,
        }
      : null,
    updatedBy: row?.updated_by ?? null,
    updatedAt: row?.updated_at.toISOString() ?? null,
  };
}

export interface EndpointAddress {
  org: string;
  project: string;
  component: string;
  endpoint: string;
  environment: string;
}

export async function getEndpointPolicy(
  deps: ControlDeps,
  ctx: RequestContext,
  a: EndpointAddress,
): Promise<EndpointPolicyView> {
  const { org } = await readInOrg(deps, ctx, a.org);
  const scope = await findEndpointScope(
    deps.store.db,
    org.id,
    a.project,
    a.component,
    a.endpoint,
    a.environment,
  );
  return view(deps.store.db, scope, a.environment);
}

/** Replaces the endpoint's policy in one environment; `{}` removes it. */
export async function setEndpointPolicy(
  deps: ControlDeps,
  ctx: RequestContext,
  a: EndpointAddress,
  input: unknown,
): Promise<EndpointPolicyView> {
  const policy = parsePolicy(input);
  return mutateInOrg(
    deps,
    ctx,
    a.org,
    {
      permission: 'component:write',
      action: 'endpoint-policy.set',
      resourceType: 'endpoint',
      resource: `${a.project}/${a.component}/${a.endpoint}@${a.environment}`,
    },
    async (tx, { org }) => {
      const s = await findEndpointScope(tx, org.id, a.project, a.component, a.endpoint, a.environment);
      const existing = await policyRow(tx, s);
      if (!hasPolicy(policy)) {
        if (existing) await tx.deleteFrom('endpoint_policies').where('id', '=', existing.id).execute();
        return view(tx, s, a.environment);
      }
      const now = deps.now?.() ?? new Date();
      const sameJwks = existing && (existing.policy as EndpointPolicy).jwt?.jwksUrl === policy.jwt?.jwksUrl;
      const values = {
        policy: JSON.stringify(policy),
        updated_by: ctx.actor.userName,
        updated_at: now,
        // Keys fetched from another URL are not this one's.
        ...(sameJwks ? {} : { jwks_keys: '[]', jwks_fetched_at: null, jwks_error: null }),
      };
      if (existing)
        await tx.updateTable('endpoint_policies').set(values).where('id', '=', existing.id).execute();
      else
        await tx
          .insertInto('endpoint_policies')
          .values({
            id: newId('epp'),
            org_id: org.id,
            component_id: s.componentId,
            environment_id: s.environmentId,
            endpoint: s.endpoint,
            ...values,
          })
          .execute();
      return view(tx, s, a.environment);
    },
  );
}
