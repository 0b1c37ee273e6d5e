import { RondoError } from '../../domain/errors.js';

interface EngineError {
  statusCode?: number;
  code?: string;
  message?: string;
  json?: { message?: string };
}

/** True when the engine answered 404 (no such container, network or image). */
export function isNotFound(err: unknown): boolean {
  return (err as EngineError)?.statusCode === 404;
}

/** True when the engine says the object is already in the wanted state (304) or exists (409). */
export function isAlready(err: unknown): boolean {
  const status = (err as EngineError)?.statusCode;
  return status === 304 || status === 409;
}

/** Turns "cannot talk to the engine" into an error that says what to fix; others pass through. */
export function engineUnavailable(err: unknown, socketPath: string): unknown {
  const code = (err as EngineError)?.code;
  if (code === 'ECONNREFUSED' || code === 'ENOENT' || code === 'EACCES' || code === 'ETIMEDOUT') {
    const why = code === 'EACCES' ? 'permission denied' : 'nothing answers there';
    return new RondoError(
      'RONDO_ERR_UNAVAILABLE',
      `the Docker engine at ${socketPath} is unreachable (${why}); start it (rondo up starts dockerd) or set the data plane's socketPath`,
      { cause: err },
    );
  }
  return err;
}

export function engineMessage(err: unknown): string {
  const e = err as EngineError;
  return e?.json?.message ?? e?.message ?? String(err);
}
