import type { Connection } from './settings.js';

/** An API error as the CLI prints it: one line, with the fields at fault. */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  constructor(status: number, code: string, message: string) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
  }
}

interface ProblemBody {
  detail?: string;
  code?: string;
  fix?: string;
  errors?: { field: string; message: string }[];
}

/** A thin JSON client for `/api/v1`. */
export class ApiClient {
  readonly #conn: Connection;
  constructor(conn: Connection) {
    this.#conn = conn;
  }

  get org(): string {
    return this.#conn.org ?? '_';
  }

  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (this.#conn.token) headers.authorization = `Bearer ${this.#conn.token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    let res: Response;
    try {
      res = await fetch(`${this.#conn.server}/api/v1${path}`, {
        method,
        headers,
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
    } catch (err) {
      const reason = err instanceof Error && err.cause instanceof Error ? err.cause.message : String(err);
      throw new ApiError(
        0,
        'UNREACHABLE',
        `cannot reach the Rondo server at ${this.#conn.server} (${reason}); is it running? (make up)`,
      );
    }
    if (res.status === 204) return undefined as T;
    const text = await res.text();
    const parsed: unknown = text ? JSON.parse(text) : undefined;
    if (!res.ok) {
      const p = (parsed ?? {}) as ProblemBody;
      const fields = p.errors?.length ? p.errors.map((e) => `${e.field}: ${e.message}`).join('; ') : p.detail;
      const fix = res.status === 401 ? ` (${p.fix ?? 'log in again'})` : '';
      throw new ApiError(
        res.status,
        p.code ?? `HTTP_${res.status}`,
        `${fields ?? `HTTP ${res.status}`}${fix}`,
      );
    }
    return parsed as T;
  }

  /** GET a text response, handing each chunk to `onChunk` as it arrives (streamed logs). */
  async requestText(path: string, onChunk: (chunk: string) => void): Promise<void> {
    const headers: Record<string, string> = {};
    if (this.#conn.token) headers.authorization = `Bearer ${this.#conn.token}`;
    let res: Response;
    try {
      res = await fetch(`${this.#conn.server}/api/v1${path}`, { headers });
    } catch (err) {
      const reason = err instanceof Error && err.cause instanceof Error ? err.cause.message : String(err);
      throw new ApiError(
        0,
        'UNREACHABLE',
        `cannot reach the Rondo server at ${this.#conn.server} (${reason})`,
      );
    }
    if (!res.ok) {
      const p = (await res.json().catch(() => ({}))) as ProblemBody;
      throw new ApiError(res.status, p.code ?? `HTTP_${res.status}`, p.detail ?? `HTTP ${res.status}`);
    }
    const decoder = new TextDecoder();
    for await (const chunk of res.body ?? []) onChunk(decoder.decode(chunk as Uint8Array, { stream: true }));
  }

  /** `{org}` segment for paths: the chosen organization, or `_` for the login's default. */
  orgPath(rest: string): string {
    return `/orgs/${encodeURIComponent(this.org)}${rest}`;
  }
}
