import { Readable } from 'node:stream';
import type { FastifyReply } from 'fastify';
import { RondoError } from '../../domain/errors.js';

/**
 * Routes that need the local platform (deploys, builds, tasks, webhooks) get their dependencies
 * through this: a control plane started without one answers 503 saying how to start it.
 */
export function platformOnly<T>(deps: T | undefined, what = 'a data plane'): () => T {
  return () => {
    if (!deps)
      throw new RondoError(
        'RONDO_ERR_UNAVAILABLE',
        `this control plane runs without ${what}; start it with \`rondo up\``,
      );
    return deps;
  };
}

/**
 * Sends text chunks as a streamed response. The first chunk is read before answering, so an
 * unknown resource still gets its 404 rather than an empty 200 stream.
 */
export async function sendTextStream(
  reply: FastifyReply,
  chunks: AsyncGenerator<string>,
): Promise<FastifyReply> {
  const first = await chunks.next();
  async function* rest() {
    if (!first.done) yield first.value;
    yield* chunks;
  }
  return reply.type('text/plain; charset=utf-8').send(Readable.from(rest()));
}
