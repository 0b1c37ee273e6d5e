import { z } from 'zod';

/**
 * API management on an endpoint in one environment (G7, SPEC §7): rate limits, API keys, JWT
 * validation and CORS, as data. The gateway enforces them (`src/gateway/haproxy-policy.ts`); a
 * gateway that cannot refuses to publish the route rather than ignore them.
 */

/** A header name as HTTP allows it (a token), lower-cased: HAProxy matches headers case-insensitively. */
const headerName = z
  .string()
  .regex(/^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,64}$/, "a header name: letters, digits and !#$%&'*+.^_`|~- (≤ 64)")
  .transform((s) => s.toLowerCase());

/** Values written into the gateway's configuration: no spaces, quotes or control characters. */
const configText = (what: string) =>
  z
    .string()
    .regex(
      /^[A-Za-z0-9._~:/?@!&()*+,;=%-]{1,256}$/,
      `${what}: URL characters without spaces, quotes, # or $ (≤ 256)`,
    );

export const RATE_WINDOWS = ['second', 'minute'] as const;

export const rateLimitSchema = z
  .object({
    /** Accepted requests per window; one more in the window is answered 429. */
    requests: z.number().int().min(1).max(1_000_000),
    per: z.enum(RATE_WINDOWS),
    /** Per-minute limits only: at most this many of the window's requests in any one second. */
    burst: z.number().int().min(1).max(1_000_000).optional(),
  })
  .strict()
  .superRefine((v, ctx) => {
    if (v.burst === undefined) return;
    if (v.per === 'second')
      ctx.addIssue({ code: 'custom', path: ['burst'], message: 'burst applies to per-minute limits only' });
    else if (v.burst > v.requests)
      ctx.addIssue({ code: 'custom', path: ['burst'], message: 'burst must not exceed requests' });
  });

/** Asymmetric algorithms only: a shared HMAC secret would have to sit in the gateway's configuration. */
export const JWT_ALGORITHMS = [
  'RS256',
  'RS384',
  'RS512',
  'ES256',
  'ES384',
  'ES512',
  'PS256',
  'PS384',
  'PS512',
] as const;

const pemPublicKey = z
  .string()
  .max(16_384)
  .regex(
    /^-----BEGIN PUBLIC KEY-----\r?\n[A-Za-z0-9+/=\r\n]+-----END PUBLIC KEY-----\s*$/,
    'a PEM public key (SPKI, "BEGIN PUBLIC KEY")',
  );

const claimName = z.string().regex(/^[A-Za-z0-9_]{1,64}$/, 'a top-level claim name: letters, digits, _');

export const jwtPolicySchema = z
  .object({
    issuer: configText('issuer'),
    audience: configText('audience'),
    algorithms: z.array(z.enum(JWT_ALGORITHMS)).min(1).max(JWT_ALGORITHMS.length),
    /** Exactly one of the two: a static key, or a JWKS URL Rondo fetches and refreshes. */
    publicKeyPem: pemPublicKey.optional(),
    jwksUrl: z
      .url({ protocol: /^https?$/ })
      .max(2048)
      .optional(),
    /** Claims sent to the backend as headers, e.g. `{ claim: 'sub', header: 'x-user' }`. */
    forwardClaims: z
      .array(z.object({ claim: claimName, header: headerName }).strict())
      .max(16)
      .default([]),
  })
  .strict()
  .superRefine((v, ctx) => {
    if ((v.publicKeyPem === undefined) === (v.jwksUrl === undefined))
      ctx.addIssue({
        code: 'custom',
        path: ['publicKeyPem'],
        message: 'give publicKeyPem or jwksUrl (one of them)',
      });
  });

const origin = z
  .string()
  .regex(/^(\*|https?:\/\/[A-Za-z0-9.-]+(:\d{1,5})?)$/, 'an origin: scheme://host[:port], or *');

export const corsPolicySchema = z
  .object({
    origins: z.array(origin).min(1).max(64),
    methods: z
      .array(z.enum(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']))
      .min(1)
      .default(['GET', 'POST', 'PUT', 'PATCH', 'DELETE']),
    headers: z.array(headerName).max(64).default([]),
    credentials: z.boolean().default(false),
    maxAgeSeconds: z.number().int().min(0).max(86_400).default(600),
  })
  .strict()
  .superRefine((v, ctx) => {
    if (v.credentials && v.origins.includes('*'))
      ctx.addIssue({
        code: 'custom',
        path: ['origins'],
        message: 'credentials cannot be allowed for origin *',
      });
  });

export const endpointPolicySchema = z
  .object({
    /** All requests to the endpoint together. */
    rateLimit: rateLimitSchema.optional(),
    /** Each consumer (API key's consumer, else the JWT's `sub`, else the client address). */
    consumerRateLimit: rateLimitSchema.optional(),
    /** Requests must carry one of the endpoint's API keys in this header. */
    apiKey: z
      .object({ header: headerName.default('api-key') })
      .strict()
      .optional(),
    jwt: jwtPolicySchema.optional(),
    cors: corsPolicySchema.optional(),
  })
  .strict();

export type RateLimit = z.infer<typeof rateLimitSchema>;
export type JwtPolicy = z.infer<typeof jwtPolicySchema>;
export type CorsPolicy = z.infer<typeof corsPolicySchema>;
export type EndpointPolicy = z.infer<typeof endpointPolicySchema>;

export const consumerNameSchema = z
  .string()
  .regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'a consumer name: lower-case letters, digits, - (≤ 63)');

/** True when the policy asks the gateway for anything. */
export function hasPolicy(p: EndpointPolicy | undefined): boolean {
  return !!p && Object.values(p).some((v) => v !== undefined);
}

/** `Retry-After` for a limit: the whole window, as the gateway's windows slide. */
export function retryAfterSeconds(limit: RateLimit): number {
  return limit.per === 'second' ? 1 : 60;
}
