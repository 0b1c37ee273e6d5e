import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Webhook verification and push-event parsing for the providers of §9 (F6). Pure functions over
 * the raw body and the headers: the receiver routes call them before anything else happens.
 */

export const PROVIDERS = ['github', 'gitlab', 'bitbucket', 'generic'] as const;
export type Provider = (typeof PROVIDERS)[number];

export type Headers = Record<string, string | string[] | undefined>;

/** A push as Rondo needs it, whatever the provider. */
export interface PushEvent {
  /** `refs/heads/main`, `refs/tags/v1`. */
  ref: string;
  /** The commit the ref points to now; null when the ref was deleted. */
  after: string | null;
  /** The commit before the push; null for a new ref. */
  before: string | null;
  /** URLs that name the repository (clone over https, ssh, web page). */
  repositoryUrls: string[];
  /** Files the pushed commits touch, when the payload lists them (GitHub, GitLab, generic). */
  changedFiles: string[] | null;
}

export type Parsed =
  | { kind: 'push'; deliveryId: string; event: PushEvent }
  | { kind: 'ping'; deliveryId: string }
  | { kind: 'ignored'; deliveryId: string; reason: string };

export class WebhookRefused extends Error {
  constructor(
    readonly status: 400 | 401 | 413,
    message: string,
  ) {
    super(message);
  }
}

/** The generic receiver refuses a signature timestamp further than this from now (replays). */
export const GENERIC_MAX_SKEW_SECONDS = 300;

const header = (h: Headers, name: string): string | undefined => {
  const v = h[name.toLowerCase()];
  return Array.isArray(v) ? v[0] : v;
};

function hmacHex(secret: string, data: Buffer | string): string {
  return createHmac('sha256', secret).update(data).digest('hex');
}

/** Constant-time comparison of two strings (different lengths compare unequal without leaking where). */
export function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  if (x.length !== y.length) {
    timingSafeEqual(x, x);
    return false;
  }
  return timingSafeEqual(x, y);
}

/**
 * Checks a delivery as its provider signs it; throws WebhookRefused (401) when the signature or
 * token is missing or wrong. `now` is for the generic receiver's timestamp check.
 */
export function verifyDelivery(
  provider: Provider,
  body: Buffer,
  headers: Headers,
  secret: string,
  now = Date.now(),
): void {
  switch (provider) {
    case 'github':
    case 'bitbucket': {
      const name = provider === 'github' ? 'x-hub-signature-256' : 'x-hub-signature';
      const given = header(headers, name);
      if (!given)
        throw new WebhookRefused(401, `missing ${name}; set the webhook's secret to the one Rondo printed`);
      if (!sameSecret(given, `sha256=${hmacHex(secret, body)}`))
        throw new WebhookRefused(401, `${name} does not match the body signed with this repository's secret`);
      return;
    }
    case 'gitlab': {
      const given = header(headers, 'x-gitlab-token');
      if (!given) throw new WebhookRefused(401, "missing X-Gitlab-Token; set the webhook's secret token");
      if (!sameSecret(given, secret))
        throw new WebhookRefused(401, "X-Gitlab-Token is not this repository's secret");
      return;
    }
    case 'generic': {
      const ts = header(headers, 'x-rondo-timestamp');
      const given = header(headers, 'x-rondo-signature');
      if (!ts || !given)
        throw new WebhookRefused(
          401,
          'missing X-Rondo-Timestamp or X-Rondo-Signature (sha256=HMAC-SHA256 of "<timestamp>.<body>")',
        );
      const seconds = Number(ts);
      if (!Number.isInteger(seconds) || Math.abs(now / 1000 - seconds) > GENERIC_MAX_SKEW_SECONDS)
        throw new WebhookRefused(401, `X-Rondo-Timestamp is not within ${GENERIC_MAX_SKEW_SECONDS} s of now`);
      const signed = Buffer.concat([Buffer.from(`${ts}.`), body]);
      if (!sameSecret(given, `sha256=${hmacHex(secret, signed)}`))
        throw new WebhookRefused(
          401,
          'X-Rondo-Signature does not match "<timestamp>.<body>" signed with the secret',
        );
      return;
    }
  }
}

const ZERO = /^0+$/;
const commitOrNull = (s: unknown): string | null =>
  typeof s === 'string' && /^[0-9a-f]{7,64}$/.test(s) && !ZERO.test(s) ? s : null;

function json(body: Buffer): Record<string, unknown> {
  try {
    const v = JSON.parse(body.toString('utf8')) as unknown;
    if (v && typeof v === 'object' && !Array.isArray(v)) return v as Record<string, unknown>;
  } catch {
    // fall through
  }
  throw new WebhookRefused(400, 'the body is not a JSON object');
}

function files(commits: unknown): string[] | null {
  if (!Array.isArray(commits)) return null;
  const out = new Set<string>();
  for (const c of commits as Record<string, unknown>[]) {
    for (const k of ['added', 'removed', 'modified']) {
      const list = c?.[k];
      if (!Array.isArray(list)) return null;
      for (const f of list) if (typeof f === 'string') out.add(f);
    }
  }
  return [...out];
}

const strings = (...xs: unknown[]): string[] =>
  xs.filter((x): x is string => typeof x === 'string' && x !== '');

/** Turns a verified delivery into a push, a ping, or a reason it is ignored; 400 when malformed. */
export function parseDelivery(provider: Provider, body: Buffer, headers: Headers): Parsed {
  const deliveryId =
    header(headers, 'x-github-delivery') ??
    header(headers, 'x-gitlab-event-uuid') ??
    header(headers, 'x-gitlab-webhook-uuid') ??
    header(headers, 'x-request-uuid') ??
    header(headers, 'x-request-id') ??
    header(headers, 'x-rondo-delivery');
  if (!deliveryId || deliveryId.length > 200)
    throw new WebhookRefused(
      400,
      'missing the delivery id header (X-GitHub-Delivery, X-Gitlab-Event-UUID, X-Request-UUID or X-Rondo-Delivery)',
    );
  const p = json(body);
  switch (provider) {
    case 'github': {
      const event = header(headers, 'x-github-event');
      if (event === 'ping') return { kind: 'ping', deliveryId };
      if (event !== 'push') return { kind: 'ignored', deliveryId, reason: `event '${event}' is not a push` };
      const repo = (p.repository ?? {}) as Record<string, unknown>;
      const commits = Array.isArray(p.commits) ? p.commits : [];
      return {
        kind: 'push',
        deliveryId,
        event: {
          ref: requireRef(p.ref),
          after: p.deleted === true ? null : commitOrNull(p.after),
          before: commitOrNull(p.before),
          repositoryUrls: strings(repo.clone_url, repo.ssh_url, repo.html_url, repo.git_url),
          // GitHub lists at most 20 commits: beyond that the list is not the whole change.
          changedFiles: commits.length >= 20 ? null : files(commits),
        },
      };
    }
    case 'gitlab': {
      const event = header(headers, 'x-gitlab-event');
      if (event !== 'Push Hook' && event !== 'Tag Push Hook')
        return { kind: 'ignored', deliveryId, reason: `event '${event}' is not a push` };
      const project = (p.project ?? p.repository ?? {}) as Record<string, unknown>;
      const total = typeof p.total_commits_count === 'number' ? p.total_commits_count : 0;
      const commits = Array.isArray(p.commits) ? p.commits : [];
      return {
        kind: 'push',
        deliveryId,
        event: {
          ref: requireRef(p.ref),
          after: commitOrNull(p.after),
          before: commitOrNull(p.before),
          repositoryUrls: strings(
            project.git_http_url,
            project.git_ssh_url,
            project.web_url,
            project.http_url,
          ),
          changedFiles: total > commits.length ? null : files(commits),
        },
      };
    }
    case 'bitbucket': {
      const event = header(headers, 'x-event-key');
      if (event === 'diagnostics:ping') return { kind: 'ping', deliveryId };
      if (event !== 'repo:push')
        return { kind: 'ignored', deliveryId, reason: `event '${event}' is not a push` };
      const change = (
        (p.push as Record<string, unknown>)?.changes as Record<string, unknown>[] | undefined
      )?.[0];
      if (!change) throw new WebhookRefused(400, 'a repo:push without push.changes');
      const next = change.new as Record<string, unknown> | null;
      const old = change.old as Record<string, unknown> | null;
      const ref = next ?? old;
      if (!ref || typeof ref.name !== 'string')
        throw new WebhookRefused(400, 'push.changes[0] names no branch or tag');
      const repo = (p.repository ?? {}) as Record<string, unknown>;
      const links = (repo.links ?? {}) as Record<string, { href?: string }>;
      return {
        kind: 'push',
        deliveryId,
        event: {
          ref: `${ref.type === 'tag' ? 'refs/tags' : 'refs/heads'}/${ref.name}`,
          after: next ? commitOrNull((next.target as Record<string, unknown>)?.hash) : null,
          before: old ? commitOrNull((old.target as Record<string, unknown>)?.hash) : null,
          repositoryUrls: strings(
            links.html?.href,
            typeof repo.full_name === 'string' ? `https://bitbucket.org/${repo.full_name}` : '',
          ),
          // Bitbucket's push payload lists no files: Rondo asks Git.
          changedFiles: null,
        },
      };
    }
    case 'generic': {
      const repo = p.repository;
      return {
        kind: 'push',
        deliveryId,
        event: {
          ref: requireRef(p.ref),
          after: commitOrNull(p.after),
          before: commitOrNull(p.before),
          repositoryUrls: strings(repo),
          changedFiles: Array.isArray(p.changedFiles) ? strings(...(p.changedFiles as unknown[])) : null,
        },
      };
    }
  }
}

function requireRef(ref: unknown): string {
  if (typeof ref !== 'string' || !/^refs\/(heads|tags)\/[^\s\0]{1,255}$/.test(ref))
    throw new WebhookRefused(400, 'ref must be refs/heads/<branch> or refs/tags/<tag>');
  return ref;
}

/** Signs a generic delivery (for senders, tests and the CLI's instructions). */
export function signGeneric(secret: string, timestamp: number, body: Buffer | string): string {
  return `sha256=${hmacHex(secret, Buffer.concat([Buffer.from(`${timestamp}.`), Buffer.from(body)]))}`;
}
