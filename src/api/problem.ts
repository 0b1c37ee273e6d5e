import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import { type ErrorCode, errorRegistry, type FieldError, RondoError } from '../domain/errors.js';

/** Sends a RondoError as `application/problem+json`. */
export function sendProblem(reply: FastifyReply, request: FastifyRequest, err: RondoError): FastifyReply {
  const entry = errorRegistry[err.code];
  const body: Record<string, unknown> = {
    type: `urn:rondo:error:${err.code}`,
    title: entry.title,
    status: entry.status,
    detail: err.message,
    code: err.code,
    instance: request.id,
    fix: entry.fix,
  };
  if (err.fields.length > 0) body.errors = err.fields;
  return reply.code(entry.status).type('application/problem+json').serializer(JSON.stringify).send(body);
}

const FASTIFY_CODES: Record<string, ErrorCode> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'RONDO_ERR_INPUT_BODY_TOO_LARGE',
  FST_ERR_CTP_INVALID_JSON_BODY: 'RONDO_ERR_INPUT_MALFORMED_JSON',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'RONDO_ERR_INPUT_MALFORMED_JSON',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'RONDO_ERR_INPUT_UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'RONDO_ERR_INPUT_INVALID',
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
  const mapped = fe?.code ? FASTIFY_CODES[fe.code] : undefined;
  if (mapped) return new RondoError(mapped, errorRegistry[mapped].title);
  return new RondoError('RONDO_ERR_INTERNAL', 'internal error', { cause: err });
}
