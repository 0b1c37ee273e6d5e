import createClient, { type Middleware } from 'openapi-fetch';
import type { paths } from './schema';

/** The API's problem+json (RFC 9457) answer, as the console shows it: title, then the fix. */
export interface Problem {
  title: string;
  status: number;
  detail?: string;
  code?: string;
  fix?: string;
  errors?: { field: string; message: string }[];
}

export class ApiProblem extends Error {
  constructor(readonly problem: Problem) {
    super(problem.title);
  }
}

/** The session's CSRF token: memory only (never storage); `GET /api/v1/session` gives it again after a reload. */
let csrfToken: string | null = null;
let onSignedOut: (reason: Problem | undefined) => void = () => {};
/**
 * Moves at every sign-in and sign-out. A 401 to a request sent in an earlier session says nothing
 * about the current one (a page's first reads answered after the person signed in), so it is ignored.
 */
let sessionEpoch = 0;
const epochOf = new WeakMap<Request, number>();

export function setCsrfToken(token: string | null): void {
  csrfToken = token;
  sessionEpoch++;
}

export function currentSessionEpoch(): number {
  return sessionEpoch;
}

export function whenSignedOut(handler: (reason: Problem | undefined) => void): void {
  onSignedOut = handler;
}

/** An answer that means the page is no longer signed in, and whether to say why on the sign-in page. */
export function signedOutReason(problem: Problem): { reason: Problem | undefined } | null {
  if (problem.code === 'RONDO_ERR_AUTH_SESSION_ENDED') return { reason: problem };
  // No cookie at all (cleared, or never signed in): nothing to explain.
  if (problem.code === 'RONDO_ERR_AUTH_TOKEN_MISSING') return { reason: undefined };
  return null;
}

/** A refusal read outside `api` (a stream's): a 401 that ends the session lands on sign-in. */
export function noticeRefusal(problem: Problem): void {
  if (problem.status !== 401) return;
  const out = signedOutReason(problem);
  if (out) onSignedOut(out.reason);
}

const session: Middleware = {
  onRequest({ request }) {
    if (request.method !== 'GET' && csrfToken) request.headers.set('x-rondo-csrf', csrfToken);
    epochOf.set(request, sessionEpoch);
    return request;
  },
  async onResponse({ response, request }) {
    const stale = epochOf.get(request) !== sessionEpoch;
    if (response.status === 401 && !stale && !request.headers.has('authorization')) {
      const out = signedOutReason((await response.clone().json()) as Problem);
      if (out) onSignedOut(out.reason);
    }
    return response;
  },
};

export const api = createClient<paths>({ baseUrl: '' });
api.use(session);

/** The data of an answer, or its problem thrown for the query cache (and the page) to show. */
export function unwrap<T>(result: { data?: T; error?: unknown; response: Response }): T {
  if (result.error !== undefined || !result.response.ok) throw toProblem(result.error, result.response);
  return result.data as T;
}

function toProblem(error: unknown, response: Response): ApiProblem {
  if (error && typeof error === 'object' && 'title' in error) return new ApiProblem(error as Problem);
  return new ApiProblem({ title: `The server answered ${response.status}`, status: response.status });
}

export function problemOf(err: unknown): Problem {
  if (err instanceof ApiProblem) return err.problem;
  return {
    title: 'The console could not reach Rondo',
    status: 0,
    fix: 'Check that the control plane is running, then reload the page.',
  };
}
