import type { FastifyRequest } from 'fastify';
import { type FieldError, invalid } from '../domain/errors.js';
import { unstorableTextProblem } from '../domain/text.js';

/** How many fields one refusal names at most: a hostile body may hold millions. */
const MAX_REPORTED = 20;

/**
 * Every string in a request (path parameters, query, JSON body, object keys included) must be
 * storable text: no NUL, no lone surrogate. Checked once here, before any schema or use case,
 * so no route can hand one to the database (which would answer 500). Field names follow the
 * schema errors: `params.org`, `querystring.project`, `source.branch`, `watchPaths.0`.
 */
export async function refuseUnstorableText(request: FastifyRequest): Promise<void> {
  const errors: FieldError[] = [];
  collect(request.params, 'params', errors);
  collect(request.query, 'querystring', errors);
  // A Buffer body (webhook deliveries, kept raw for their signature) is not text to store here.
  if (!Buffer.isBuffer(request.body)) collect(request.body, '', errors);
  if (errors.length > 0) throw invalid(errors);
}

/** Walks a parsed JSON value without recursion: a 10 MB body may nest a million levels deep. */
function collect(root: unknown, rootPath: string, errors: FieldError[]): void {
  const stack: [unknown, string][] = [[root, rootPath]];
  while (stack.length > 0 && errors.length < MAX_REPORTED) {
    const [value, path] = stack.pop()!;
    if (typeof value === 'string') {
      const problem = unstorableTextProblem(value);
      if (problem) errors.push({ field: path || 'body', message: problem });
    } else if (Array.isArray(value)) {
      for (let i = value.length - 1; i >= 0; i--) stack.push([value[i], join(path, String(i))]);
    } else if (value !== null && typeof value === 'object') {
      const entries = Object.entries(value);
      for (let i = entries.length - 1; i >= 0; i--) {
        const [key, child] = entries[i]!;
        const keyProblem = unstorableTextProblem(key);
        // The key cannot name the field (it is the problem); its parent does.
        if (keyProblem) errors.push({ field: path || 'body', message: `has a key that ${keyProblem}` });
        else stack.push([child, join(path, key)]);
      }
    }
  }
}

function join(path: string, key: string): string {
  return path ? `${path}.${key}` : key;
}
