import { PassThrough } from 'node:stream';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { problemBody, toRondoError } from './problem.js';

/** One server-sent event: its name and a JSON payload. */
export interface ServerEvent {
  event: string;
  data: unknown;
}

export interface EventStreamOptions {
  /** A comment line this often keeps proxies and idle timeouts from closing a quiet stream. */
  heartbeatMs?: number;
}

/** The wire format (text/event-stream): `event:` then one `data:` line (JSON has no raw newlines). */
export function formatEvent({ event, data }: ServerEvent): string {
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}

/**
 * Sends events as `text/event-stream` (written here rather than with a plugin: the format is a few
 * lines, and the first event is read before answering so that a refusal keeps its status and
 * problem+json body, as the other streamed routes do). A failure after the answer started is sent
 * as a `problem` event, then the stream ends.
 */
export async function sendEventStream(
  request: FastifyRequest,
  reply: FastifyReply,
  events: AsyncGenerator<ServerEvent>,
  { heartbeatMs = 15_000 }: EventStreamOptions = {},
): Promise<FastifyReply> {
  const first = await events.next();
  const out = new PassThrough();
  const beat = setInterval(() => out.write(': keep-alive\n\n'), heartbeatMs).unref();
  // A stream that closes without an `end` event is reopened by the browser's EventSource after a
  // second, and the reopening is authenticated again (a revoked session stops there).
  out.write('retry: 1000\n\n');
  void (async () => {
    try {
      if (first.done) return;
      out.write(formatEvent(first.value));
      for (;;) {
        if (out.destroyed) break;
        const next = await events.next();
        if (next.done || out.destroyed) break;
        out.write(formatEvent(next.value));
      }
    } catch (err) {
      const problem = problemBody(toRondoError(err), request.id);
      if (!out.destroyed) out.write(formatEvent({ event: 'problem', data: problem }));
    } finally {
      clearInterval(beat);
      await events.return(undefined).catch(() => undefined);
      out.end();
    }
  })();
  return reply
    .header('cache-control', 'no-cache, no-transform')
    .header('x-accel-buffering', 'no')
    .type('text/event-stream; charset=utf-8')
    .send(out);
}

/** An AbortSignal that aborts when the client closes the connection. */
export function closedSignal(reply: FastifyReply): AbortSignal {
  const stop = new AbortController();
  reply.raw.on('close', () => stop.abort());
  return stop.signal;
}

/** Resolves after `ms`, or at once when `signal` aborts. */
export function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done);
  });
}
