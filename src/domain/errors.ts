/**
 * The registry of Rondo's coded errors. Every code has an HTTP status, a title and a fix that
 * tells the person what to do; `docs/errors.md` documents each one and a test keeps both in sync.
 */
export const errorRegistry = {
  RONDO_ERR_INPUT_INVALID: {
    status: 400,
    title: 'The request is invalid',
    fix: 'Correct the fields listed in `errors` and send the request again.',
  },
  RONDO_ERR_INPUT_MALFORMED_JSON: {
    status: 400,
    title: 'The request body is not valid JSON',
    fix: 'Send a JSON document with `Content-Type: application/json`.',
  },
  RONDO_ERR_INPUT_UNSUPPORTED_MEDIA_TYPE: {
    status: 415,
    title: 'The request body has an unsupported content type',
    fix: 'Send the body as `application/json`.',
  },
  RONDO_ERR_INPUT_BODY_TOO_LARGE: {
    status: 413,
    title: 'The request body is larger than 10 MB',
    fix: 'Send a smaller body; Rondo accepts at most 10 MB per request.',
  },
  RONDO_ERR_INPUT_MALFORMED_URL: {
    status: 400,
    title: 'The request URL is not validly percent-encoded',
    fix: 'Percent-encode each path segment and query value as UTF-8, %XX with two hex digits (encodeURIComponent does this).',
  },
  RONDO_ERR_INPUT_URL_TOO_LONG: {
    status: 414,
    title: 'A segment of the request path is too long',
    fix: 'Names are at most 63 characters and ids at most 100; check the path you sent.',
  },
  RONDO_ERR_INPUT_HEADERS_TOO_LARGE: {
    status: 431,
    title: 'The request headers are too large',
    fix: 'Send smaller headers (at most 16 KB in all): one Authorization header with one token, no large cookies.',
  },
  RONDO_ERR_INPUT_MALFORMED_REQUEST: {
    status: 400,
    title: 'The request is not valid HTTP',
    fix: 'Send a well-formed HTTP/1.1 request; an HTTP client library or the rondo CLI does this for you.',
  },
  RONDO_ERR_INPUT_TIMEOUT: {
    status: 408,
    title: 'The request did not arrive in time',
    fix: 'Send the whole request without pausing; check the network between the client and Rondo.',
  },
  RONDO_ERR_AUTH_TOKEN_MISSING: {
    status: 401,
    title: 'No access token was sent',
    fix: 'Send `Authorization: Bearer <token>`; `rondo login --with-token` stores one for the CLI.',
  },
  RONDO_ERR_AUTH_TOKEN_INVALID: {
    status: 401,
    title: 'The access token is not valid',
    fix: 'Check that the whole token was copied, or create a new one with `rondo token create`.',
  },
  RONDO_ERR_AUTH_TOKEN_EXPIRED: {
    status: 401,
    title: 'The access token has expired',
    fix: 'Create a new token with `rondo token create` and log in with it.',
  },
  RONDO_ERR_AUTH_TOKEN_REVOKED: {
    status: 401,
    title: 'The access token was revoked',
    fix: 'Create a new token with `rondo token create` and log in with it.',
  },
  RONDO_ERR_AUTH_FORBIDDEN: {
    status: 403,
    title: 'Your role does not allow this action',
    fix: 'Ask an organization admin for a role that allows it (see docs/access.md).',
  },
  RONDO_ERR_AUTH_SCOPE: {
    status: 403,
    title: 'The access token lacks the scope this action needs',
    fix: 'Create a token with the scope named in the message.',
  },
  RONDO_ERR_AUTH_RATE_LIMITED: {
    status: 429,
    title: 'Too many failed authentications from this address',
    fix: 'Wait the seconds given in `Retry-After`, then send a valid token; check that the token was copied whole.',
  },
  RONDO_ERR_AUTH_SESSION_ENDED: {
    status: 401,
    title: 'The console session has ended',
    fix: 'Sign in to the console again with a personal access token (`rondo create token NAME`).',
  },
  RONDO_ERR_AUTH_CSRF: {
    status: 403,
    title: "The request lacks the console session's CSRF token",
    fix: 'Send the `x-rondo-csrf` header with the token `GET /api/v1/session` returns; a session cookie alone never authorizes a change.',
  },
  RONDO_ERR_NOT_FOUND: {
    status: 404,
    title: 'The resource does not exist',
    fix: 'Check the name and the organization; list the resources to see what exists.',
  },
  RONDO_ERR_ROUTE_NOT_FOUND: {
    status: 404,
    title: 'No such API route',
    fix: 'See /api/v1/openapi.json for the routes Rondo serves.',
  },
  RONDO_ERR_CONFLICT_EXISTS: {
    status: 409,
    title: 'A resource with this name already exists',
    fix: 'Choose another name, or update the existing resource.',
  },
  RONDO_ERR_CONFLICT_IN_USE: {
    status: 409,
    title: 'The resource is still in use',
    fix: 'Remove what uses it first; the message names it.',
  },
  RONDO_ERR_CONFLICT_IN_PROGRESS: {
    status: 409,
    title: 'Another operation on this resource is in progress',
    fix: 'Wait until it finishes (the message says which), then try again.',
  },
  RONDO_ERR_CONFLICT_LAST_ADMIN: {
    status: 409,
    title: 'An organization must keep at least one admin',
    fix: 'Make another member an admin first.',
  },
  RONDO_ERR_CONFLICT_REVISION: {
    status: 409,
    title: 'The resource changed since you read it',
    fix: 'Read it again (the message gives the current revision), reapply your change and send it with that revision.',
  },
  RONDO_ERR_CONFLICT_STATE: {
    status: 409,
    title: 'The resource is not in a state that allows this action',
    fix: 'Read the status of the resource; the message says what state it is in and what is possible.',
  },
  RONDO_ERR_CONFLICT_LIMIT: {
    status: 409,
    title: 'A limit on how many of these may exist is reached',
    fix: 'Delete one you no longer need (the message names the limit), then create the new one.',
  },
  RONDO_ERR_WEBHOOK_SIGNATURE: {
    status: 401,
    title: 'The webhook delivery is not signed with this repository’s secret',
    fix: 'Set the webhook’s secret in the provider to the one `rondo webhooks rotate-secret` printed (rotate again if it is lost).',
  },
  RONDO_ERR_WEBHOOK_PAYLOAD: {
    status: 400,
    title: 'The webhook delivery is not a push Rondo can read',
    fix: 'Send the provider’s push event as JSON (Content type application/json); for the generic webhook see `rondo webhooks show`.',
  },
  RONDO_ERR_WEBHOOK_REPLAYED: {
    status: 409,
    title: 'This webhook delivery was received before',
    fix: 'Nothing to do: each delivery is acted on once. Push again (a new delivery) to build again.',
  },
  RONDO_ERR_CONFIG_MISSING: {
    status: 422,
    title: 'Required configuration has no value in the target environment',
    fix: 'Set each listed name with `rondo config set` or `rondo secret set` (with `--env` for one environment), then deploy again.',
  },
  RONDO_ERR_APPROVAL_SELF: {
    status: 403,
    title: 'You cannot approve your own request',
    fix: 'Ask another reviewer named in the approval policy of the environment.',
  },
  RONDO_ERR_UNAVAILABLE: {
    status: 503,
    title: 'A part of the platform is unavailable',
    fix: 'Run `rondo doctor` to see which part and how to fix it.',
  },
  RONDO_ERR_INTERNAL: {
    status: 500,
    title: 'Internal error',
    fix: 'Retry; if it persists, report it with the request id from the `instance` field.',
  },
} as const satisfies Record<string, { status: number; title: string; fix: string }>;

export type ErrorCode = keyof typeof errorRegistry;

/** One invalid field: a JSON-pointer-like path (`buildConfigs.port`) and what is wrong with it. */
export interface FieldError {
  field: string;
  message: string;
}

/**
 * The one error type the domain and services throw. The HTTP layer maps `code` to a status and a
 * problem+json body; the CLI prints `message`.
 */
export class RondoError extends Error {
  readonly code: ErrorCode;
  readonly fields: readonly FieldError[];

  constructor(code: ErrorCode, message: string, options: { fields?: FieldError[]; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'RondoError';
    this.code = code;
    this.fields = options.fields ?? [];
  }

  get status(): number {
    return errorRegistry[this.code].status;
  }
}

/** An input error naming each field and the fix. */
export function invalid(fields: FieldError[]): RondoError {
  const summary = fields.map((f) => `${f.field}: ${f.message}`).join('; ');
  return new RondoError('RONDO_ERR_INPUT_INVALID', summary, { fields });
}

export function notFound(kind: string, name: string): RondoError {
  return new RondoError('RONDO_ERR_NOT_FOUND', `${kind} '${name}' was not found`);
}

export function alreadyExists(kind: string, name: string): RondoError {
  return new RondoError('RONDO_ERR_CONFLICT_EXISTS', `${kind} '${name}' already exists`, {
    fields: [{ field: 'name', message: `${kind} '${name}' already exists; choose another name` }],
  });
}
