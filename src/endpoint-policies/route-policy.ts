import { type EndpointPolicy, hasPolicy } from '../domain/endpoint-policy.js';
import type { RoutePolicy } from '../domain/gateway-routes.js';

/** What the gateway needs besides the policy: the live keys' hashes and the JWT public keys. */
export interface PolicyMaterial {
  apiKeys: { consumer: string; sha256: string }[];
  /** The static key, or what the JWKS refresher last wrote; empty refuses every token. */
  jwtKeys: { kid?: string; pem: string }[];
}

/**
 * An endpoint's stored policy as a route's `RoutePolicy` (`src/gateway/routes.ts`); undefined when
 * it asks for nothing, so the route stays as it was before policies.
 */
export function routePolicy(
  policy: EndpointPolicy | undefined,
  material: PolicyMaterial,
): RoutePolicy | undefined {
  if (!policy || !hasPolicy(policy)) return undefined;
  const { apiKey, jwt, ...rest } = policy;
  return {
    ...rest,
    ...(apiKey ? { apiKey: { header: apiKey.header, keys: material.apiKeys } } : {}),
    ...(jwt
      ? {
          jwt: {
            issuer: jwt.issuer,
            audience: jwt.audience,
            algorithms: jwt.algorithms,
            forwardClaims: jwt.forwardClaims,
            keys: jwt.publicKeyPem ? [{ pem: jwt.publicKeyPem }] : material.jwtKeys,
          },
        }
      : {}),
  };
}
