import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { type RateLimit, retryAfterSeconds } from '../domain/endpoint-policy.js';
import type { RoutePolicy } from '../domain/gateway-routes.js';
import { OUTCOME_HEADER } from './route-owner.js';

/**
 * An endpoint's policy (G7) as HAProxy rules in its route's backend, in this order: CORS
 * preflights (they carry no credentials), the endpoint's rate limit, the API key, the JWT, the
 * consumer's rate limit. Each refusal is a JSON answer with its outcome code, as the gateway's
 * other answers (`haproxy-config.ts`); the features were verified on Debian's 2.6 in
 * bench/gateway-features.ts.
 */
export interface PolicyRendering {
  /** Rules for the route's backend, before it strips its prefix. */
  rules: string[];
  /** Extra backends holding the stick tables. */
  tables: string[];
  /** Files whose change needs a reload (JWT public keys: jwt_verify reads them at start). */
  files: Record<string, string>;
  /** API-key maps: changed through the runtime API, no reload (`HaproxyProcess.load`). */
  runtimeMaps: Record<string, string>;
}

const answer = (status: number, code: string, message: string, extra = '') =>
  `http-request return status ${status} content-type application/json hdr ${OUTCOME_HEADER} ${code}${extra} lf-string '${JSON.stringify({ code, message, requestId: '%[unique-id]' })}'`;

const unauthorized = (why: string) => answer(401, 'AUTH_FAILURE', why);

const windowSeconds = (l: RateLimit) => (l.per === 'second' ? 1 : 60);

/**
 * A window's count is of accepted requests only (`gpc0`, incremented after the checks): counting
 * refused ones too (`http_req_rate`) would keep a client over the limit refused for the whole
 * next window. HAProxy's rates slide (the previous window weighs in for what is left of it).
 */
function rateLimitRules(limit: RateLimit, sc: 0 | 1, key: string, table: string, what: string) {
  const rules = [`  http-request track-sc${sc} ${key} table ${table}`];
  const retry = ` hdr Retry-After ${retryAfterSeconds(limit)}`;
  const refuse = answer(429, 'RATE_LIMITED', `${what} rate limit reached`, retry);
  rules.push(`  ${refuse} if { sc_gpc0_rate(${sc}) ge ${limit.requests} }`);
  if (limit.burst !== undefined) rules.push(`  ${refuse} if { sc_gpc1_rate(${sc}) ge ${limit.burst} }`);
  rules.push(`  http-request sc-inc-gpc0(${sc})`);
  if (limit.burst !== undefined) rules.push(`  http-request sc-inc-gpc1(${sc})`);
  const store = [
    `gpc0_rate(${windowSeconds(limit)}s)`,
    ...(limit.burst !== undefined ? ['gpc1_rate(1s)'] : []),
  ];
  const tableLines = [
    `backend ${table}`,
    `  stick-table type string len 128 size ${sc === 0 ? 1 : '100k'} expire ${2 * windowSeconds(limit)}s store ${store.join(',')}`,
    '',
  ];
  return { rules, tableLines };
}

function corsRules(cors: NonNullable<RoutePolicy['cors']>): string[] {
  const anyOrigin = cors.origins.includes('*');
  const rules = [
    '  http-request set-var(txn.origin) req.hdr(origin)',
    anyOrigin
      ? '  acl cors_origin var(txn.origin) -m found'
      : `  acl cors_origin var(txn.origin) -m str ${cors.origins.join(' ')}`,
    '  acl cors_preflight method OPTIONS',
    '  acl cors_preflight_asks req.hdr(access-control-request-method) -m found',
  ];
  const headers = [
    `hdr Access-Control-Allow-Origin %[var(txn.origin)]`,
    `hdr Access-Control-Allow-Methods "${cors.methods.join(', ')}"`,
    ...(cors.headers.length ? [`hdr Access-Control-Allow-Headers "${cors.headers.join(', ')}"`] : []),
    `hdr Access-Control-Max-Age ${cors.maxAgeSeconds}`,
    ...(cors.credentials ? ['hdr Access-Control-Allow-Credentials true'] : []),
    'hdr Vary Origin',
    `hdr ${OUTCOME_HEADER} CORS_RESPONSE`,
  ];
  rules.push(
    `  http-request return status 204 ${headers.join(' ')} if cors_preflight cors_preflight_asks cors_origin`,
    `  ${answer(403, 'CORS_RESPONSE', 'origin not allowed by this endpoint’s CORS policy')} if cors_preflight cors_preflight_asks !cors_origin`,
    '  http-response set-header Access-Control-Allow-Origin %[var(txn.origin)] if cors_origin',
    ...(cors.credentials
      ? ['  http-response set-header Access-Control-Allow-Credentials true if cors_origin']
      : []),
    '  http-response add-header Vary Origin',
  );
  return rules;
}

/**
 * A token is verified once, then remembered at two levels, so a request with a token already
 * verified for this endpoint runs no JSON query, no hash and no table lookup:
 * - **the connection**: after a token passes, the connection's variables for this endpoint keep
 *   the token itself, its `exp` and the claims to forward (`sess.<route>_jwt.*`). The next request
 *   on that connection with the same token (compared whole, byte for byte: `strcmp`) takes them
 *   from there and checks only `exp` against the clock.
 * - **the endpoint**: the token's SHA-256 goes into a stick table with its `exp` (`gpt0`). A
 *   request on another connection finds it there (a lookup, which adds no entry), checks `exp`,
 *   and reads the claims it forwards from the token (one JSON query each).
 * Anything else is verified in full: `alg` in the list, the signature by a configured key, `iss`,
 * `aud`, `exp`. Only a token that passed is stored, at either level, so neither holds an entry
 * for a token that was never verified. Why these keys and not a cheaper hash: docs/decisions.md
 * (G7, "JWT at < 10 %"). The table starts empty at each reload, which is when keys change; so do
 * the connections' variables (the old worker keeps serving its connections with the old keys
 * until they close, as it did before).
 */
function jwtRules(
  jwt: NonNullable<RoutePolicy['jwt']>,
  configDir: string,
  files: Record<string, string>,
  route: string,
  countsConsumers: boolean,
) {
  const table = `${route}-jwt`;
  // Per endpoint: one connection can carry requests to endpoints with other issuers or audiences.
  const conn = `sess.${route.replace(/[^A-Za-z0-9]/g, '_')}_jwt`;
  const known = '{ var(txn.jwt_conn) -m found }';
  const fresh = '{ var(txn.jwt_fresh) -m found }';
  const claims = [
    // Only a consumer's rate limit needs to know who it is.
    ...(countsConsumers ? [{ claim: 'sub', var: 'txn.jwt_sub', header: undefined }] : []),
    ...jwt.forwardClaims.map((c, i) => ({ claim: c.claim, var: `txn.claim${i}`, header: c.header })),
  ];
  const connVar = (v: string) => `${conn}.${v.replace('txn.', '')}`;
  const rules = [
    '  http-request set-var(txn.bearer) http_auth_bearer',
    `  ${unauthorized('a bearer token is required')} unless { var(txn.bearer) -m found }`,
    // 1. The token this connection last had verified for this endpoint, compared whole.
    `  http-request set-var(txn.jwt_conn) bool(1) if { var(txn.bearer),strcmp(${conn}.token) eq 0 }`,
    `  http-request set-var(txn.exp) var(${conn}.exp) if ${known}`,
    // 2. A token verified on another connection: its SHA-256 in the endpoint's table.
    `  http-request set-var(txn.jwt_key) var(txn.bearer),sha2(256) unless ${known}`,
    `  http-request set-var(txn.jwt_exp) var(txn.jwt_key),table_gpt0(${table}) unless ${known}`,
    '  http-request set-var(txn.exp) var(txn.jwt_exp) if { var(txn.jwt_exp) -m int gt 0 }',
    // 3. Neither: verify it.
    '  http-request set-var(txn.jwt_fresh) bool(1) unless { var(txn.exp) -m found }',
    `  http-request set-var(txn.alg) var(txn.bearer),jwt_header_query('$.alg') if ${fresh}`,
    `  ${unauthorized('the token is not valid')} if ${fresh} !{ var(txn.alg) -m str ${jwt.algorithms.join(' ')} }`,
    `  http-request set-var(txn.kid) var(txn.bearer),jwt_header_query('$.kid') if ${fresh}`,
  ];
  // A key path from a variable did not verify on 2.6 (docs/decisions.md): one rule per key.
  for (const key of jwt.keys) {
    const name = `jwt-${createHash('sha256').update(key.pem).digest('hex').slice(0, 24)}.pem`;
    files[name] = key.pem;
    const kid = key.kid ? ` { var(txn.kid) -m str ${key.kid} }` : '';
    rules.push(
      `  http-request set-var(txn.jwt_ok) int(1) if ${fresh} !{ var(txn.jwt_ok) -m found }${kid} { var(txn.bearer),jwt_verify(txn.alg,"${join(configDir, name)}") -m int 1 }`,
    );
  }
  rules.push(
    `  ${unauthorized('the token is not valid')} if ${fresh} !{ var(txn.jwt_ok) -m int 1 }`,
    `  http-request set-var(txn.iss) var(txn.bearer),jwt_payload_query('$.iss') if ${fresh}`,
    `  http-request set-var(txn.aud) var(txn.bearer),jwt_payload_query('$.aud') if ${fresh}`,
    `  ${unauthorized('the token is not for this endpoint')} if ${fresh} !{ var(txn.iss) -m str ${jwt.issuer} }`,
    `  ${unauthorized('the token is not for this endpoint')} if ${fresh} !{ var(txn.aud) -m str ${jwt.audience} }`,
    `  http-request set-var(txn.exp) var(txn.bearer),jwt_payload_query('$.exp','int') if ${fresh}`,
    `  ${unauthorized('the token has expired')} unless { var(txn.exp) -m found }`,
    '  http-request set-var(txn.now) date',
    `  ${unauthorized('the token has expired')} if { var(txn.exp),sub(txn.now) le 0 }`,
    // Verified now: remember its expiry under its hash (only verified tokens get an entry).
    `  http-request track-sc2 var(txn.jwt_key) table ${table} if ${fresh}`,
    `  http-request sc-set-gpt0(2) var(txn.exp) if ${fresh}`,
  );
  // The claims: from the connection when it knows the token, else from the token itself.
  for (const c of claims)
    rules.push(
      `  http-request set-var(${c.var}) var(${connVar(c.var)}) if ${known}`,
      `  http-request set-var(${c.var}) var(txn.bearer),jwt_payload_query('$.${c.claim}') unless ${known}`,
    );
  // Then this connection remembers this token (a token it did not know passed).
  rules.push(
    `  http-request set-var(${conn}.token) var(txn.bearer) unless ${known}`,
    `  http-request set-var(${conn}.exp) var(txn.exp) unless ${known}`,
  );
  for (const c of claims)
    rules.push(
      `  http-request unset-var(${connVar(c.var)}) unless ${known}`,
      `  http-request set-var(${connVar(c.var)}) var(${c.var}) unless ${known}`,
    );
  // An API key's consumer comes first (the key is checked before the token).
  if (countsConsumers)
    rules.push('  http-request set-var(txn.consumer) var(txn.jwt_sub) unless { var(txn.consumer) -m found }');
  for (const c of claims) {
    if (!c.header) continue;
    // The client cannot set a forwarded claim's header itself.
    rules.push(
      `  http-request del-header ${c.header}`,
      `  http-request set-header ${c.header} %[var(${c.var})] if { var(${c.var}) -m found }`,
    );
  }
  const tableLines = [
    `backend ${table}`,
    '  stick-table type binary len 32 size 100k expire 10m store gpt0',
    '',
  ];
  return { rules, tableLines };
}

/** The rules, tables and files of `policy` on the route backend `route`. */
export function haproxyPolicy(route: string, policy: RoutePolicy, configDir: string): PolicyRendering {
  const out: PolicyRendering = { rules: [], tables: [], files: {}, runtimeMaps: {} };
  if (policy.cors) out.rules.push(...corsRules(policy.cors));
  if (policy.rateLimit) {
    const r = rateLimitRules(policy.rateLimit, 0, 'str(endpoint)', `${route}-rl`, 'the endpoint’s');
    out.rules.push(...r.rules);
    out.tables.push(...r.tableLines);
  }
  if (policy.apiKey) {
    const map = `keys-${route}.map`;
    out.runtimeMaps[map] = policy.apiKey.keys
      .map((k) => `${k.sha256.toLowerCase()} ${k.consumer}\n`)
      .join('');
    out.rules.push(
      `  http-request set-var(txn.consumer) req.hdr(${policy.apiKey.header}),sha2(256),hex,lower,map_str(${join(configDir, map)})`,
      `  ${unauthorized('a valid API key is required')} unless { var(txn.consumer) -m found }`,
      // The backend never sees the key.
      `  http-request del-header ${policy.apiKey.header}`,
    );
  }
  if (policy.jwt) {
    const r = jwtRules(policy.jwt, configDir, out.files, route, !!policy.consumerRateLimit);
    out.rules.push(...r.rules);
    out.tables.push(...r.tableLines);
  }
  if (policy.consumerRateLimit) {
    out.rules.push('  http-request set-var(txn.consumer) src unless { var(txn.consumer) -m found }');
    const r = rateLimitRules(
      policy.consumerRateLimit,
      1,
      'var(txn.consumer)',
      `${route}-crl`,
      'the consumer’s',
    );
    out.rules.push(...r.rules);
    out.tables.push(...r.tableLines);
  }
  return out;
}
