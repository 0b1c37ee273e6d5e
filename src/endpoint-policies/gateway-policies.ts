import { createPublicKey, type JsonWebKey } from 'node:crypto';
import { type EndpointPolicy, endpointPolicySchema } from '../domain/endpoint-policy.js';
import type { RoutePolicy } from '../domain/gateway-routes.js';
import { storableText } from '../domain/storable-text.js';
import type { Executor } from '../store/store.js';
import { routePolicy } from './route-policy.js';

/**
 * What the gateway sync needs (G7): every endpoint's policy with its live keys' hashes and its
 * JWT keys, and the background refresh of keys from JWKS URLs (Rondo fetches them; the gateway
 * only reads PEM files, as HAProxy 2.6 cannot fetch).
 */

/** The key of `routePolicies`' map. */
export const policyKey = (componentId: string, endpoint: string, environmentId: string) =>
  `${componentId}/${endpoint}/${environmentId}`;

/** Every endpoint policy as a `RoutePolicy`, by `policyKey`. */
export async function routePolicies(db: Executor): Promise<Map<string, RoutePolicy>> {
  const rows = await db
    .selectFrom('endpoint_policies')
    .select(['component_id', 'environment_id', 'endpoint', 'policy', 'jwks_keys'])
    .execute();
  const keys = await db
    .selectFrom('api_keys')
    .select(['component_id', 'environment_id', 'endpoint', 'consumer', 'key_hash'])
    .where('revoked_at', 'is', null)
    .orderBy('id')
    .execute();
  const keysBy = new Map<string, { consumer: string; sha256: string }[]>();
  for (const k of keys) {
    const key = policyKey(k.component_id, k.endpoint, k.environment_id);
    keysBy.set(key, [...(keysBy.get(key) ?? []), { consumer: k.consumer, sha256: k.key_hash }]);
  }
  const out = new Map<string, RoutePolicy>();
  for (const r of rows) {
    const key = policyKey(r.component_id, r.endpoint, r.environment_id);
    const p = routePolicy(endpointPolicySchema.parse(r.policy), {
      apiKeys: keysBy.get(key) ?? [],
      jwtKeys: r.jwks_keys,
    });
    if (p) out.set(key, p);
  }
  return out;
}

const MAX_JWKS_BYTES = 256 * 1024;

/** The JWKS document's usable public keys as PEM; keys of other kinds or uses are left out. */
export function jwksToPem(doc: unknown): { kid?: string; pem: string }[] {
  const keys = (doc as { keys?: unknown })?.keys;
  if (!Array.isArray(keys)) throw new Error('not a JWKS document (no "keys" array)');
  const out: { kid?: string; pem: string }[] = [];
  for (const jwk of keys as (JsonWebKey & { kid?: unknown; use?: unknown })[]) {
    if (jwk.use !== undefined && jwk.use !== 'sig') continue;
    if (jwk.kty !== 'RSA' && jwk.kty !== 'EC') continue;
    const pem = createPublicKey({ key: jwk, format: 'jwk' })
      .export({ type: 'spki', format: 'pem' })
      .toString();
    const kid = typeof jwk.kid === 'string' && /^[A-Za-z0-9._-]{1,128}$/.test(jwk.kid) ? jwk.kid : undefined;
    out.push(kid ? { kid, pem } : { pem });
  }
  return out;
}

/**
 * Fetches every JWKS URL once and stores the keys; a failure keeps the previous keys and records
 * why (shown by `GET …/policies`). The periodic loop calls it (every 10 minutes is ample: identity
 * providers publish a new key well before they sign with it).
 */
export async function refreshJwks(
  db: Executor,
  fetchJson: (url: string) => Promise<unknown> = fetchJwks,
  now = () => new Date(),
): Promise<{ refreshed: number; failed: number }> {
  const rows = await db.selectFrom('endpoint_policies').select(['id', 'policy']).execute();
  let refreshed = 0;
  let failed = 0;
  for (const r of rows) {
    const url = (r.policy as EndpointPolicy).jwt?.jwksUrl;
    if (!url) continue;
    try {
      const keys = jwksToPem(await fetchJson(url));
      await db
        .updateTable('endpoint_policies')
        .set({ jwks_keys: JSON.stringify(keys), jwks_fetched_at: now(), jwks_error: null })
        .where('id', '=', r.id)
        .execute();
      refreshed++;
    } catch (err) {
      failed++;
      await db
        .updateTable('endpoint_policies')
        .set({
          jwks_error: storableText(err instanceof Error ? err.message : String(err), { maxChars: 500 }),
        })
        .where('id', '=', r.id)
        .execute();
    }
  }
  return { refreshed, failed };
}

async function fetchJwks(url: string): Promise<unknown> {
  const res = await fetch(url, { signal: AbortSignal.timeout(5_000), redirect: 'error' });
  if (!res.ok) throw new Error(`${url} answered ${res.status}`);
  const text = await res.text();
  if (text.length > MAX_JWKS_BYTES) throw new Error(`${url} answered more than ${MAX_JWKS_BYTES} bytes`);
  return JSON.parse(text);
}
