import Fastify from 'fastify';
import { afterAll, describe, expect, it } from 'vitest';
import { type ServerEvent, sendEventStream } from '../../src/api/sse.js';
import { RondoError } from '../../src/domain/errors.js';
import { startTestRondo, type TestRondo } from '../helpers/rondo.js';

/** The server-sent event streams the console follows (G4): the wire format and its refusals. */
describe('server-sent event streams', () => {
  const app = Fastify();
  app.get('/stream/:mode', async (req, reply) => {
    const mode = (req.params as { mode: string }).mode;
    async function* events(): AsyncGenerator<ServerEvent> {
      if (mode === 'missing') throw new RondoError('RONDO_ERR_NOT_FOUND', 'build b-1 does not exist');
      yield { event: 'build', data: { status: 'running', note: 'two\nlines' } };
      yield { event: 'log', data: { text: 'step 1\n' } };
      if (mode === 'breaks') throw new RondoError('RONDO_ERR_UNAVAILABLE', 'the engine went away');
      yield { event: 'end', data: { status: 'succeeded' } };
    }
    return sendEventStream(req, reply, events());
  });
  afterAll(() => app.close());

  it('sends each event as one event line and one JSON data line, then ends', async () => {
    const res = await app.inject({ method: 'GET', url: '/stream/ok' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('text/event-stream; charset=utf-8');
    expect(res.headers['cache-control']).toContain('no-cache');
    expect(res.body).toBe(
      'retry: 1000\n\n' +
        'event: build\ndata: {"status":"running","note":"two\\nlines"}\n\n' +
        'event: log\ndata: {"text":"step 1\\n"}\n\n' +
        'event: end\ndata: {"status":"succeeded"}\n\n',
    );
  });

  it('answers a refusal met before the first event with its status, not an empty stream', async () => {
    const res = await app.inject({ method: 'GET', url: '/stream/missing' });
    expect(res.statusCode).toBe(404);
  });

  it('sends a failure after the stream started as a problem event with the title and the fix', async () => {
    const res = await app.inject({ method: 'GET', url: '/stream/breaks' });
    expect(res.statusCode).toBe(200);
    const last = res.body.trim().split('\n\n').at(-1) ?? '';
    expect(last.split('\n')[0]).toBe('event: problem');
    const problem = JSON.parse(last.split('\n')[1]?.slice('data: '.length) ?? '{}');
    expect(problem.code).toBe('RONDO_ERR_UNAVAILABLE');
    expect(problem.title).toBeTruthy();
    expect(problem.fix).toBeTruthy();
    expect(res.body).not.toContain('event: end');
  });
});

describe('the stream routes of a control plane', () => {
  let t: TestRondo;
  afterAll(() => t?.close());

  it('validate their input and authenticate like the resource they follow', async () => {
    t = await startTestRondo('pglite');
    const streams = [
      '/api/v1/orgs/default/builds/b-1/stream',
      '/api/v1/orgs/default/executions/x-1/stream',
      '/api/v1/orgs/default/projects/p/components/c/status/stream',
    ];
    for (const url of streams) {
      expect((await t.call('GET', url, { token: null })).status, url).toBe(401);
      const extra = await t.call('GET', `${url}?follow=1`);
      expect(extra.status, url).toBe(400);
      // Without a data plane they answer 503 with the fix, like the routes they follow.
      const plain = await t.call('GET', url);
      expect(plain.status, url).toBe(503);
      expect(plain.body.fix, url).toBeTruthy();
    }
    const schedules = await t.call('GET', '/api/v1/orgs/default/projects/p/components/c/schedules?x=1');
    expect(schedules.status).toBe(400);
    const compare = await t.call('GET', '/api/v1/orgs/default/deployments/d-1/compare');
    expect(compare.status).toBe(400);
    expect(compare.body.errors[0].field).toContain('with');
    const missing = await t.call('GET', '/api/v1/orgs/default/deployments/d-1/compare?with=d-2');
    expect(missing.status).toBe(404);
  }, 60_000);
});
