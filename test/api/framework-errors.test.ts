import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestRondo, type TestRondo } from '../helpers/rondo.js';

/** Sends raw bytes to the listening control plane; resolves with the status, headers and body. */
function raw(url: string, request: string): Promise<{ status: number; headers: string; body: string }> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(port), hostname, () => socket.write(request));
    let data = '';
    socket.on('data', (chunk) => {
      data += chunk.toString('utf8');
    });
    socket.on('error', reject);
    socket.on('close', () => {
      const [head = '', body = ''] = data.split('\r\n\r\n');
      resolve({ status: Number(head.split(' ')[1]), headers: head, body });
    });
  });
}

function expectProblem(
  res: { status: number; headers: Record<string, unknown>; body: unknown },
  status: number,
  code: string,
): void {
  expect(res.status).toBe(status);
  expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
  const body = typeof res.body === 'string' ? JSON.parse(res.body) : res.body;
  expect(body).toMatchObject({ status, code, detail: expect.any(String), fix: expect.any(String) });
  expect(body.instance).toMatch(/^[0-9a-f-]{36}$/);
  expect(body.instance).toBe(res.headers['x-request-id']);
}

/** G2 #8: every error, Fastify's and Node's included, is problem+json with the request id. */
describe('errors raised before a route runs', () => {
  let t: TestRondo;
  let url: string;
  beforeAll(async () => {
    t = await startTestRondo('pglite');
    url = await t.rondo.listen();
  });
  afterAll(() => t.close());

  it('answers a malformed percent-encoding in the path with 400 problem+json', async () => {
    expectProblem(await t.call('GET', '/api/v1/orgs/%E0%A4%A'), 400, 'RONDO_ERR_INPUT_MALFORMED_URL');
    expectProblem(
      await t.call('GET', '/api/v1/orgs/default/projects/%ZZ', { token: null }),
      400,
      'RONDO_ERR_INPUT_MALFORMED_URL',
    );
  });

  it('answers a path segment over the router’s limit with problem+json', async () => {
    // 414 from the router's limit, or 404 when another route (the console's) takes the path.
    const res = await t.call('GET', `/api/v1/orgs/${'a'.repeat(200)}/projects`);
    const code = res.status === 414 ? 'RONDO_ERR_INPUT_URL_TOO_LONG' : 'RONDO_ERR_ROUTE_NOT_FOUND';
    expectProblem(res, res.status === 414 ? 414 : 404, code);
  });

  it('answers Fastify’s own refusals (404, 415, 413, bad JSON) with problem+json', async () => {
    expectProblem(await t.call('GET', '/api/v1/no/such/route'), 404, 'RONDO_ERR_ROUTE_NOT_FOUND');
    expectProblem(
      await t.call('POST', '/api/v1/orgs/default/projects', {
        raw: 'name=x',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
      }),
      415,
      'RONDO_ERR_INPUT_UNSUPPORTED_MEDIA_TYPE',
    );
    expectProblem(
      await t.call('POST', '/api/v1/orgs/default/projects', {
        raw: JSON.stringify({ name: 'x', description: 'a'.repeat(11 * 1024 * 1024) }),
        headers: { 'content-type': 'application/json' },
      }),
      413,
      'RONDO_ERR_INPUT_BODY_TOO_LARGE',
    );
    expectProblem(
      await t.call('POST', '/api/v1/orgs/default/projects', {
        raw: '{"name":',
        headers: { 'content-type': 'application/json' },
      }),
      400,
      'RONDO_ERR_INPUT_MALFORMED_JSON',
    );
  });

  it('answers the probe’s malformed percent-encoding over a real connection', async () => {
    const res = await raw(url, 'GET /api/v1/orgs/%E0%A4%A HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    expect(res.status).toBe(400);
    expect(res.headers).toMatch(/content-type: application\/problem\+json/i);
    expect(JSON.parse(res.body).code).toBe('RONDO_ERR_INPUT_MALFORMED_URL');
  });

  it('answers the probe’s curl "$API/orgs/%00/projects" with 400 naming the parameter', async () => {
    const res = await fetch(`${url}/api/v1/orgs/%00/projects`, {
      headers: { authorization: `Bearer ${t.adminToken}` },
    });
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    const body = (await res.json()) as { errors: unknown; instance: string };
    expect(body.errors).toEqual([{ field: 'params.org', message: expect.stringMatching(/NUL character/) }]);
    expect(body.instance).toBe(res.headers.get('x-request-id'));
  });

  function rawProblem(res: { status: number; headers: string; body: string }, status: number, code: string) {
    const headers = Object.fromEntries(
      res.headers
        .split('\r\n')
        .slice(1)
        .map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]),
    );
    expectProblem({ status: res.status, headers, body: res.body }, status, code);
  }

  it('answers headers over 16 KB with 431 problem+json carrying a request id', async () => {
    const res = await raw(
      url,
      `GET /api/v1/healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`,
    );
    rawProblem(res, 431, 'RONDO_ERR_INPUT_HEADERS_TOO_LARGE');
  });

  it('answers a request that is not HTTP with 400 problem+json', async () => {
    rawProblem(await raw(url, 'HELLO THERE\r\n\r\n'), 400, 'RONDO_ERR_INPUT_MALFORMED_REQUEST');
  });
});
