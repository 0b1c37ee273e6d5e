import { randomUUID } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import { type ErrorCode, errorRegistry, type FieldError, RondoError } from '../domain/errors.js';

/** The problem+json body (RFC 9457) of a RondoError answered to request `instance`. */
export function problemBody(err: RondoError, instance: string): Record<string, unknown> {
  const entry = errorRegistry[err.code];
  const body: Record<string, unknown> = {
    type: `urn:rondo:error:${err.code}`,
    title: entry.title,
    status: entry.status,
    detail: err.message,
    code: err.code,
    instance,
    fix: entry.fix,
  };
  if (err.fields.length > 0) body.errors = err.fields;
  return body;
}

/** Sends a RondoError as `application/problem+json`. */
export function sendProblem(reply: FastifyReply, request: FastifyRequest, err: RondoError): FastifyReply {
  return (
    reply
      .code(err.status)
      .header('x-request-id', request.id)
      // Also here: errors met before routing (bad percent-encoding) skip the onSend hook.
      .header('x-content-type-options', 'nosniff')
      .type('application/problem+json')
      .serializer(JSON.stringify)
      .send(problemBody(err, request.id))
  );
}

const FASTIFY_CODES: Record<string, ErrorCode> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'RONDO_ERR_INPUT_BODY_TOO_LARGE',
  FST_ERR_CTP_INVALID_JSON_BODY: 'RONDO_ERR_INPUT_MALFORMED_JSON',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'RONDO_ERR_INPUT_MALFORMED_JSON',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'RONDO_ERR_INPUT_UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'RONDO_ERR_INPUT_INVALID',
  FST_ERR_BAD_URL: 'RONDO_ERR_INPUT_MALFORMED_URL',
  FST_ERR_MAX_PARAM_LENGTH: 'RONDO_ERR_INPUT_URL_TOO_LONG',
};

/** Turns schema-validation failures into field errors: `source.repoUrl: must not …`. */
function fieldErrors(err: FastifyError): FieldError[] {
  const out: FieldError[] = [];
  const where = err.validationContext === 'body' ? '' : `${err.validationContext ?? ''}.`;
  for (const v of err.validation ?? []) {
    const path = v.instancePath.split('/').filter(Boolean).join('.');
    const base = `${where}${path}`.replace(/\.$/, '');
    const keys = (v.params as { keys?: unknown }).keys;
    if (v.keyword === 'unrecognized_keys' && Array.isArray(keys)) {
      for (const key of keys) {
        out.push({
          field: base ? `${base}.${String(key)}` : String(key),
          message: 'is not a known field; remove it (see /api/v1/openapi.json)',
        });
      }
      continue;
    }
    let message = v.message ?? 'is invalid';
    if (v.keyword === 'invalid_type' && /received undefined/.test(message)) message = 'is required';
    out.push({ field: base || (err.validationContext ?? 'body'), message });
  }
  return out;
}

/** Maps any error to problem+json; 5xx details stay in the log, never in the response. */
export function toRondoError(err: unknown): RondoError {
  if (err instanceof RondoError) return err;
  const fe = err as FastifyError;
  if (hasZodFastifySchemaValidationErrors(fe)) {
    const fields = fieldErrors(fe);
    return new RondoError(
      'RONDO_ERR_INPUT_INVALID',
      fields.map((f) => `${f.field}: ${f.message}`).join('; '),
      { fields },
    );
  }
  const mapped = fe?.code && Object.hasOwn(FASTIFY_CODES, fe.code) ? FASTIFY_CODES[fe.code] : undefined;
  if (mapped) return new RondoError(mapped, errorRegistry[mapped].title);
  // Any other refusal of Fastify's own (a 4xx it raises while reading the request) is the
  // client's to fix, not an internal error.
  if (typeof fe?.code === 'string' && fe.code.startsWith('FST_') && fe.statusCode && fe.statusCode < 500)
    return new RondoError('RONDO_ERR_INPUT_MALFORMED_REQUEST', fe.message);
  return new RondoError('RONDO_ERR_INTERNAL', 'internal error', { cause: err });
}

/**
 * Answers an HTTP request Node could not even parse (oversized headers, a broken request line, a
 * client too slow to send it) with problem+json, as every other error; there is no request
 * object, so the request id is made here. Returns it for the log, or `undefined` when the
 * connection is already gone.
 */
export function answerClientError(err: NodeJS.ErrnoException, socket: Duplex): string | undefined {
  if (err.code === 'ECONNRESET' || socket.destroyed) return undefined;
  const code: ErrorCode =
    err.code === 'HPE_HEADER_OVERFLOW'
      ? 'RONDO_ERR_INPUT_HEADERS_TOO_LARGE'
      : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? 'RONDO_ERR_INPUT_TIMEOUT'
        : 'RONDO_ERR_INPUT_MALFORMED_REQUEST';
  const id = randomUUID();
  const problem = new RondoError(code, errorRegistry[code].title);
  const body = JSON.stringify(problemBody(problem, id));
  if (!socket.writable) {
    socket.destroy();
    return id;
  }
  // end(), not destroy(): the answer must leave before the connection closes.
  socket.end(
    `HTTP/1.1 ${problem.status} ${STATUS_CODES[problem.status]}\r\n` +
      'Content-Type: application/problem+json\r\n' +
      `Content-Length: ${Buffer.byteLength(body)}\r\n` +
      `x-request-id: ${id}\r\nX-Content-Type-Options: nosniff\r\nConnection: close\r\n\r\n${body}`,
  );
  return id;
}
