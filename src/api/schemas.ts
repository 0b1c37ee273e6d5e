import { z } from 'zod';
import { checkDnsLabel } from '../domain/names.js';
import { singleLineProblem } from '../domain/text.js';

/** A DNS-label name (§1) with a message that says what is wrong and how to fix it. */
export const Name = z.string().superRefine((v, ctx) => {
  const problem = checkDnsLabel(v);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});

/**
 * One line of text a person reads in tables and logs: control characters (newlines, ANSI escape
 * sequences) would let a name rewrite what a terminal shows.
 */
export function singleLine(max: number, min = 0) {
  return z
    .string()
    .min(min)
    .max(max)
    .superRefine((v, ctx) => {
      const problem = singleLineProblem(v);
      if (problem) ctx.addIssue({ code: 'custom', message: problem });
    });
}

export const DisplayName = singleLine(200, 1);
export const Description = singleLine(2000);
/** What a person calls an access token (`rondo token list` shows it). */
export const TokenName = singleLine(100, 1);

/** `_` in an `{org}` path segment means "the caller's default organization". */
export const OrgParam = z.string().min(1).max(63);

/** On an update: the `resourceVersion` the client read (optimistic concurrency, src/control/resource-version.ts). */
export const ResourceVersionInput = z
  .number()
  .int()
  .positive()
  .optional()
  .describe('the resourceVersion you read: refused (409) if the resource changed since');

export const PageQuery = {
  limit: z.coerce.number().int().min(1).max(500).optional(),
  cursor: z.string().max(1000).optional(),
};

export function pageOf<T extends z.ZodType>(item: T) {
  return z.object({ items: z.array(item), nextCursor: z.string().optional() });
}

/** problem+json (RFC 9457) with Rondo's `code` and the fields at fault. */
export const Problem = z.object({
  type: z.string(),
  title: z.string(),
  status: z.number(),
  detail: z.string(),
  code: z.string(),
  instance: z.string(),
  fix: z.string(),
  errors: z.array(z.object({ field: z.string(), message: z.string() })).optional(),
});

export const problemResponses = {
  400: Problem,
  401: Problem,
  403: Problem,
  404: Problem,
  409: Problem,
};

/** For DELETE routes: 204 with no body. */
export const deleteResponses = { 204: z.null().describe('deleted'), ...problemResponses };
