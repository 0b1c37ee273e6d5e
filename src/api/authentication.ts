import type { FastifyReply, FastifyRequest } from 'fastify';
import { type AuthFailureLimits, DEFAULT_AUTH_FAILURE_LIMITS } from '../config.js';
import type { ControlDeps } from '../control/context.js';
import { authenticate, refuseAuthentication } from '../control/tokens.js';
import { RondoError } from '../domain/errors.js';

interface SourceState {
  failures: number;
  windowStart: number;
  blockedUntil: number;
}

/** Sources remembered at most; the oldest is forgotten first, so a flood of addresses cannot grow memory. */
const MAX_SOURCES = 10_000;

/**
 * Failed authentications per source address. After `maxFailures` within the window, the source
 * is blocked: every request from it that carries a token answers 429 without the token being
 * looked at, valid or not — answering a valid one would still tell a guesser which guess was
 * right. A success does not reset the count (an attacker holding one valid token could otherwise
 * interleave it with guesses). Sources elsewhere are not affected.
 */
export class AuthFailures {
  private readonly sources = new Map<string, SourceState>();

  constructor(
    private readonly limits: AuthFailureLimits = DEFAULT_AUTH_FAILURE_LIMITS,
    private readonly now: () => number = Date.now,
  ) {}

  /** Seconds until `address` may try again; 0 when it is not blocked. */
  retryAfter(address: string): number {
    const state = this.sources.get(sourceKey(address));
    const left = state ? state.blockedUntil - this.now() : 0;
    return left > 0 ? Math.ceil(left / 1000) : 0;
  }

  /** Counts one failure; true when it is the one that blocks the source. */
  fail(address: string): boolean {
    const { maxFailures, windowSeconds, blockSeconds } = this.limits;
    if (maxFailures === 0) return false;
    const key = sourceKey(address);
    const now = this.now();
    let state = this.sources.get(key);
    if (!state || now - state.windowStart >= windowSeconds * 1000) {
      state = { failures: 0, windowStart: now, blockedUntil: state?.blockedUntil ?? 0 };
    }
    state.failures += 1;
    // Re-inserting keeps the map in order of last failure, so the first key is the stalest.
    this.sources.delete(key);
    this.sources.set(key, state);
    if (this.sources.size > MAX_SOURCES) this.sources.delete(this.sources.keys().next().value as string);
    if (state.failures < maxFailures) return false;
    state.failures = 0;
    state.windowStart = now;
    state.blockedUntil = now + blockSeconds * 1000;
    return true;
  }
}

/**
 * The key a source is counted under: an IPv4 address, or the /64 network of an IPv6 address (one
 * host usually holds a whole /64, so counting single addresses would not limit it).
 */
export function sourceKey(address: string): string {
  const bare = address.replace(/%.*$/, '');
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(bare);
  if (mapped) return mapped[1]!;
  if (!bare.includes(':')) return bare;
  const [head = '', tail] = bare.split('::');
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const zeros =
    tail === undefined ? [] : Array<string>(Math.max(0, 8 - left.length - right.length)).fill('0');
  const groups = [...left, ...zeros, ...right]
    .slice(0, 4)
    .map((g) => Number.parseInt(g || '0', 16).toString(16));
  return `${groups.join(':')}::/64`;
}

const BEARER = /^Bearer ([\x21-\x7e]{1,512})$/;

/**
 * The `onRequest` authentication of every non-public route: a bearer token, refused with 401 (the
 * failure audited and logged with the source address, never the token), or with 429 while the
 * source is blocked.
 */
export function authenticationHook(deps: ControlDeps, failures: AuthFailures) {
  return async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    if (request.routeOptions.config.public) return;
    const header = request.headers.authorization;
    // No credential, no guess: a missing header is neither counted nor audited.
    if (!header) throw new RondoError('RONDO_ERR_AUTH_TOKEN_MISSING', 'send Authorization: Bearer <token>');
    const wait = failures.retryAfter(request.ip);
    if (wait > 0) {
      reply.header('retry-after', String(wait));
      throw new RondoError(
        'RONDO_ERR_AUTH_RATE_LIMITED',
        `too many failed authentications from ${request.ip}; try again in ${wait} s`,
      );
    }
    const source = { requestId: request.id, sourceIp: request.ip };
    try {
      const match = BEARER.exec(header);
      if (!match) {
        const malformed = new RondoError(
          'RONDO_ERR_AUTH_TOKEN_INVALID',
          'the Authorization header must be `Bearer <token>`',
        );
        return await refuseAuthentication(deps, source, malformed);
      }
      request.actor = await authenticate(deps, match[1]!, source);
    } catch (err) {
      if (err instanceof RondoError && err.status === 401) {
        const blocked = failures.fail(request.ip);
        request.log.warn({ source: request.ip, code: err.code, blocked }, 'authentication failed');
      }
      throw err;
    }
  };
}
