import { isGatewayOutcome } from '../domain/gateway-outcomes.js';
import { storableText } from '../domain/storable-text.js';
import type { AccessLine } from '../observability/gateway-log-collector.js';
import { parseOwnerKey } from './route-owner.js';

/**
 * HAProxy's side of the gateway access log (G7), beside `caddy-access-log.ts`: one line of the
 * JSON log-format in `haproxy-config.ts` becomes a `GatewayRequest`. The route's backend sets the
 * owner's key (`ownerKey`) in a transaction variable the log prints,
 * so clients never see it.
 */

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const finite = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && v >= 0;
const text = (v: unknown): v is string => typeof v === 'string';

/**
 * When the line was logged, in microseconds: `atUs` (whole microseconds), or on lines written
 * before it existed `at` (seconds with milliseconds, so microseconds come out exact).
 */
function timeUs(entry: Obj): bigint | undefined {
  const { atUs, at } = entry;
  if (atUs !== undefined) return Number.isSafeInteger(atUs) && finite(atUs) ? BigInt(atUs) : undefined;
  return finite(at) && at <= 1e11 ? BigInt(Math.round(at * 1000)) * 1000n : undefined;
}

/**
 * Parses one line HAProxy wrote to the access log (its standard output). Anything else (HAProxy's
 * own notices, a cut line, numbers out of range) is `invalid`; a request no route owns (a 404
 * outside every component, a 413 before routing) is `unattributed`.
 */
export function parseHaproxyAccessLine(line: string): AccessLine {
  if (line.length > 256 * 1024) return { kind: 'invalid', reason: 'line too long' };
  let entry: unknown;
  try {
    entry = JSON.parse(line);
  } catch {
    return { kind: 'invalid', reason: 'not JSON' };
  }
  if (!isObj(entry) || !text(entry.method) || !text(entry.path) || !text(entry.owner))
    return { kind: 'invalid', reason: 'not a request' };
  const owner = parseOwnerKey(entry.owner);
  if (!owner) return { kind: 'unattributed' };
  const { status, durationMs, bytes, requestId, outcome } = entry;
  const atUs = timeUs(entry);
  if (atUs === undefined || !Number.isInteger(status) || (status as number) > 999)
    return { kind: 'invalid', reason: 'bad time or status' };
  if (!finite(durationMs) || !finite(bytes)) return { kind: 'invalid', reason: 'bad duration or size' };
  return {
    kind: 'request',
    atUs: atUs.toString(),
    request: {
      at: new Date(Number(atUs / 1000n)),
      ...owner,
      method: storableText(entry.method, { maxChars: 16 }),
      path: storableText(entry.path, { maxChars: 2048 }),
      status: status as number,
      // No outcome header: HAProxy answered on its own (a malformed request, a client timeout).
      outcome: text(outcome) && isGatewayOutcome(outcome) ? outcome : 'GATEWAY_ERROR',
      durationMs,
      bytes,
      requestId: storableText(text(requestId) ? requestId : '', { maxChars: 64 }),
    },
  };
}
