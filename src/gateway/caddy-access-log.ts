import { isGatewayOutcome } from '../domain/gateway-outcomes.js';
import type { RouteOwner } from '../domain/gateway-routes.js';
import { storableText } from '../domain/storable-text.js';
import type { AccessLine } from '../observability/gateway-log-collector.js';
import { ownerKey, parseOwnerKey } from './route-owner.js';

export { ownerKey } from './route-owner.js';

/**
 * Caddy's side of the gateway access log (G3): how a route names its owner in Caddy's log, and how
 * one line of that log becomes a `GatewayRequest`. Everything that knows Caddy's log format is
 * here, so another proxy brings its own version of this file and the collector stays as it is.
 *
 * Caddy 2.6 logs the request as it arrived (headers a route sets are not in it) and the response
 * headers as sent, so neither can carry the owner without the client seeing it. What it does log
 * after the handlers ran is `user_id`, read from the `http.auth.user.id` placeholder: a `map`
 * handler with only a default sets that placeholder per route, and no client ever sees it.
 * (Caddy 2.8's `log_append` would be the tidier way; Debian ships 2.6.)
 */

/** The Caddy handler that makes a route's requests logged as `owner`'s. */
export function ownerHandler(o: RouteOwner): Record<string, unknown> {
  return {
    handler: 'map',
    source: '{http.request.method}',
    destinations: ['{http.auth.user.id}'],
    defaults: [ownerKey(o)],
  };
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const firstHeader = (headers: unknown, name: string): string | undefined => {
  if (!isObj(headers)) return undefined;
  const v = headers[name];
  return Array.isArray(v) && typeof v[0] === 'string' ? v[0] : undefined;
};
const finite = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && v >= 0;

/**
 * Parses one line Caddy wrote to the access log. Anything else (garbage, a cut line, another
 * logger's line, numbers out of range) is `invalid`; text that ends up stored is made storable.
 * The path is kept without its query string: queries carry tokens more often than not.
 */
export function parseCaddyAccessLine(line: string): AccessLine {
  if (line.length > 256 * 1024) return { kind: 'invalid', reason: 'line too long' };
  let entry: unknown;
  try {
    entry = JSON.parse(line);
  } catch {
    return { kind: 'invalid', reason: 'not JSON' };
  }
  if (!isObj(entry) || entry.msg !== 'handled request') return { kind: 'invalid', reason: 'not a request' };
  const owner = typeof entry.user_id === 'string' ? parseOwnerKey(entry.user_id) : undefined;
  if (!owner) return { kind: 'unattributed' };
  const req = entry.request;
  const { ts, status, duration, size } = entry;
  if (!isObj(req) || typeof req.method !== 'string' || typeof req.uri !== 'string')
    return { kind: 'invalid', reason: 'no method or uri' };
  if (!finite(ts) || ts > 1e11 || !Number.isInteger(status) || (status as number) > 999)
    return { kind: 'invalid', reason: 'bad time or status' };
  if (!finite(duration) || !finite(size)) return { kind: 'invalid', reason: 'bad duration or size' };
  const headers = entry.resp_headers;
  const outcome = firstHeader(headers, 'X-Rondo-Outcome');
  const query = req.uri.indexOf('?');
  const atUs = BigInt(Math.round(ts * 1e6));
  return {
    kind: 'request',
    atUs: atUs.toString(),
    request: {
      at: new Date(Number(atUs / 1000n)),
      ...owner,
      method: storableText(req.method, { maxChars: 16 }),
      path: storableText(query < 0 ? req.uri : req.uri.slice(0, query), { maxChars: 2048 }),
      status: status as number,
      // No outcome header: Caddy answered on its own (an abort, a handler error before any route's answer).
      outcome: outcome && isGatewayOutcome(outcome) ? outcome : 'GATEWAY_ERROR',
      durationMs: duration * 1000,
      bytes: size,
      requestId: storableText(firstHeader(headers, 'X-Request-Id') ?? '', { maxChars: 64 }),
    },
  };
}
