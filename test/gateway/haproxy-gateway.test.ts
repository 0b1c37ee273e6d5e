/**
 * The HAProxy gateway (G7 groundwork) as a real process on loopback, no engine: Debian's HAProxy
 * 2.6 runs the configuration haproxyConfig makes from a GatewayState, and answers as the gateway
 * must (routes, 404/413/503 JSON with outcome codes, request ids, organization listeners open
 * only to their networks, the JSON access log), and route changes under load drop nothing.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, request, type Server } from 'node:http';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GatewayState, PathRoute, RouteOwner } from '../../src/domain/gateway-routes.js';
import { parseHaproxyAccessLine } from '../../src/gateway/haproxy-access-log.js';
import { type HaproxySettings, haproxyConfig } from '../../src/gateway/haproxy-config.js';
import { HaproxyProcess } from '../../src/gateway/haproxy-process.js';
import { freePort } from '../helpers/platform.js';
import { startStrictLoad } from '../helpers/strict-load.js';

const LIMIT = 10 * 1024 * 1024;
const HOST = 'staging.localhost';
const owner: RouteOwner = {
  orgId: 'org-1',
  projectId: 'prj-1',
  componentId: 'cmp-1',
  environmentId: 'env-1',
  deploymentId: 'dep-1',
};

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** Reads an answer's whole body as text. */
function answered(resolve: (a: Answer) => void) {
  return (res: IncomingMessage) => {
    let body = '';
    res.setEncoding('utf8');
    res.on('data', (d: string) => {
      body += d;
    });
    // `close` without `end`: the gateway closed as it answered (an upload it refused before the
    // body was all sent); what was read is the answer.
    const done = () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body });
    res.on('end', done);
    res.on('close', done);
  };
}

function ask(
  port: number,
  host: string,
  path: string,
  init: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path,
        method: init.method ?? 'GET',
        headers: { host, ...init.headers },
        agent: false,
        timeout: 5_000,
      },
      answered(resolve),
    );
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.end(init.body);
  });
}

/**
 * POSTs `size` bytes written in 64 KB pieces, chunked (no `content-length`) or announced, and reads
 * the answer even when the gateway answers before the body is all sent. A raw socket, because a
 * client that keeps writing after an early answer gets EPIPE once the gateway closes, and Node's
 * HTTP client then destroys the response it was still reading: here every byte read is kept as it
 * arrives, writing stops at the answer's first byte, and a write error after it is ignored.
 */
function upload(port: number, host: string, path: string, size: number, chunked: boolean): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port });
    // Node destroys a socket whose write fails, unread answer and all; this one keeps reading.
    (socket as unknown as { _writableState: { autoDestroy: boolean } })._writableState.autoDestroy = false;
    const read: Buffer[] = [];
    let settled = false;
    const finish = (err?: Error): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      const answer = read.length > 0 ? parseAnswer(Buffer.concat(read)) : undefined;
      if (answer) resolve(answer);
      else reject(err ?? new Error('connection closed without an answer'));
    };
    const timer = setTimeout(() => finish(new Error('timeout')), 30_000);
    socket.on('data', (d: Buffer) => {
      read.push(d);
      const answer = parseAnswer(Buffer.concat(read));
      if (answer?.complete) finish();
    });
    // A write that fails once the gateway has answered and closed (EPIPE, ECONNRESET) ends the
    // writing; the answer is read on, up to the connection's end.
    let writeFailed: Error | undefined;
    socket.on('error', (err) => {
      writeFailed = err;
      setTimeout(() => finish(err), 2_000);
    });
    socket.on('end', () => finish());
    socket.on('close', () => finish());
    const head = [
      `POST ${path} HTTP/1.1`,
      `host: ${host}`,
      chunked ? 'transfer-encoding: chunked' : `content-length: ${size}`,
      'connection: close',
      '',
      '',
    ].join('\r\n');
    const piece = Buffer.alloc(64 * 1024, 120);
    let sent = 0;
    const write = (): void => {
      // Yielding before each piece lets an early answer be read before the next write.
      setImmediate(() => {
        if (read.length > 0 || settled || writeFailed) return;
        if (sent >= size) {
          if (chunked) socket.write('0\r\n\r\n');
          return;
        }
        const n = Math.min(piece.length, size - sent);
        sent += n;
        const body = n === piece.length ? piece : piece.subarray(0, n);
        const framed = chunked
          ? Buffer.concat([Buffer.from(`${n.toString(16)}\r\n`), body, Buffer.from('\r\n')])
          : body;
        if (socket.write(framed)) write();
        else socket.once('drain', write);
      });
    };
    socket.write(head);
    write();
  });
}

/** An HTTP/1.1 answer from its bytes (`complete` once its body is all there). */
function parseAnswer(bytes: Buffer): (Answer & { complete: boolean }) | undefined {
  const end = bytes.indexOf('\r\n\r\n');
  if (end < 0) return undefined;
  const [statusLine, ...lines] = bytes.subarray(0, end).toString('latin1').split('\r\n');
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  let rest = bytes.subarray(end + 4);
  let complete = false;
  if (headers['transfer-encoding'] === 'chunked') {
    const parts: Buffer[] = [];
    for (;;) {
      const eol = rest.indexOf('\r\n');
      if (eol < 0) break;
      const n = Number.parseInt(rest.subarray(0, eol).toString('latin1'), 16);
      if (n === 0) {
        complete = true;
        break;
      }
      if (rest.length < eol + 2 + n + 2) break;
      parts.push(rest.subarray(eol + 2, eol + 2 + n));
      rest = rest.subarray(eol + 2 + n + 2);
    }
    rest = Buffer.concat(parts);
  } else if (headers['content-length'] !== undefined) {
    const length = Number(headers['content-length']);
    complete = rest.length >= length;
    rest = rest.subarray(0, length);
  }
  const status = Number(statusLine?.split(' ')[1] ?? 0);
  return { status, headers, body: rest.toString('utf8'), complete };
}

describe('HAProxy gateway (real process)', () => {
  let dir: string;
  let echo: Server;
  let echoAddr: string;
  let deadAddr: string;
  let haproxy: HaproxyProcess;
  let settings: HaproxySettings;
  let port: number;
  let open: number;
  let closed: number;
  /** What the echo backend received: the body's bytes, whether it ended, and when its connection is done with it. */
  const seen: {
    url?: string;
    headers: Record<string, unknown>;
    bytes: number;
    complete: boolean;
    closed: Promise<void>;
  }[] = [];

  const state = (extra = 0): GatewayState => {
    const books: PathRoute = {
      prefix: '/acme/shop/api/books',
      basePath: '/v1',
      upstreams: [{ dial: echoAddr }],
      owner,
      componentPrefix: '/acme/shop/api',
    };
    const more = Array.from({ length: extra }, (_, i) => ({
      prefix: `/acme/shop/extra${i}/ep`,
      basePath: '/',
      upstreams: [{ dial: echoAddr }],
    }));
    return {
      publicGateway: {
        environments: [
          {
            host: HOST,
            routes: [
              books,
              { prefix: '/acme/shop/idle/ep', basePath: '/', upstreams: [] },
              { prefix: '/acme/shop/down/ep', basePath: '/', upstreams: [{ dial: deadAddr }] },
              {
                prefix: '/acme/shop/half/ep',
                basePath: '/',
                upstreams: [{ dial: deadAddr }, { dial: echoAddr }],
              },
              ...more,
            ],
          },
        ],
        webApps: [{ host: 'web.shop.acme.staging.localhost', upstreams: [{ dial: echoAddr }], owner }],
      },
      internal: [
        {
          environment: 'acme-staging',
          port: open,
          allowedCidrs: ['127.0.0.1/32'],
          routes: [{ prefix: '/shop/api/books', basePath: '/', upstreams: [{ dial: echoAddr }] }],
        },
        {
          environment: 'acme-prod',
          port: closed,
          allowedCidrs: ['10.99.0.0/16'],
          routes: [{ prefix: '/shop/api/books', basePath: '/', upstreams: [{ dial: echoAddr }] }],
        },
      ],
    };
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'rondo-haproxy-'));
    echo = createServer((req, res) => {
      const entry = {
        url: req.url,
        headers: req.headers,
        bytes: 0,
        complete: false,
        closed: new Promise<void>((r) => req.once('close', r)),
      };
      seen.push(entry);
      req.on('data', (d: Buffer) => {
        entry.bytes += d.length;
      });
      req.on('end', () => {
        entry.complete = true;
        // A backend cannot claim an outcome: the gateway sets it.
        res.setHeader('X-Rondo-Outcome', 'RATE_LIMITED');
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ url: req.url, requestId: req.headers['x-request-id'], bytes: entry.bytes }));
      });
    });
    await new Promise<void>((r) => echo.listen(0, '127.0.0.1', r));
    echoAddr = `127.0.0.1:${(echo.address() as { port: number }).port}`;
    deadAddr = `127.0.0.1:${await freePort()}`;
    [port, open, closed] = [await freePort(), await freePort(), await freePort()];
    settings = {
      publicListen: `127.0.0.1:${port}`,
      internalBindAddress: '127.0.0.1',
      runtimeSocket: join(dir, 'runtime.sock'),
      configDir: join(dir, 'config'),
      bodyLimitBytes: LIMIT,
      threads: 1,
    };
    haproxy = new HaproxyProcess({
      settings,
      accessLogPath: join(dir, 'access.log'),
      errorLogPath: join(dir, 'haproxy.log'),
      masterSocket: join(dir, 'master.sock'),
    });
    await haproxy.start(haproxyConfig(state(), settings));
  });

  afterAll(async () => {
    await haproxy?.stop();
    await new Promise((r) => echo?.close(r));
    rmSync(dir, { recursive: true, force: true });
  });

  it('routes a path on its environment host to the base path, with a request id both sides see', async () => {
    const res = await ask(port, `${HOST}:8080`, '/acme/shop/api/books/42?x=1', {
      headers: { 'x-request-id': 'forged' },
    });
    expect(res.status).toBe(200);
    const body = JSON.parse(res.body) as { url: string; requestId: string };
    expect(body.url).toBe('/v1/42?x=1');
    expect(res.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    expect(body.requestId).toBe(res.headers['x-request-id']);
    expect(res.headers['x-rondo-outcome']).toBe('BACKEND_RESPONSE');
    expect(JSON.parse((await ask(port, HOST, '/acme/shop/api/books')).body).url).toBe('/v1');
  });

  it('routes a web app by its host', async () => {
    const res = await ask(port, 'web.shop.acme.staging.localhost', '/index.html');
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body).url).toBe('/index.html');
  });

  it('answers 404 as JSON with its outcome outside every route, and on a path that only starts like one', async () => {
    for (const [host, path] of [
      [HOST, '/acme/shop/idle/epX'],
      ['prod.localhost', '/acme/shop/api/books'],
      [HOST, '/nobody'],
    ] as const) {
      const res = await ask(port, host, path);
      expect(res.status, `${host}${path}`).toBe(404);
      expect(res.headers['content-type']).toBe('application/json');
      expect(res.headers['x-rondo-outcome']).toBe('RESOURCE_NOT_FOUND');
      expect(JSON.parse(res.body)).toEqual({
        code: 'RESOURCE_NOT_FOUND',
        message: 'no endpoint at this address',
        requestId: res.headers['x-request-id'],
      });
    }
    // Under a component's prefix: its own 404, logged as the component's.
    for (const path of ['/acme/shop/api/other', '/acme/shop/api/booksX']) {
      const component = await ask(port, HOST, path);
      expect(component.status, path).toBe(404);
      expect(component.headers['x-rondo-outcome']).toBe('RESOURCE_NOT_FOUND');
      expect(JSON.parse(component.body).message).toBe('no endpoint of this component at this address');
    }
  });

  it('refuses a body over 10 MB with 413 JSON before any backend sees it', async () => {
    const before = seen.length;
    const res = await ask(port, HOST, '/acme/shop/api/books', {
      method: 'POST',
      headers: { 'content-length': String(LIMIT + 1) },
    });
    expect(res.status).toBe(413);
    expect(res.headers['x-rondo-outcome']).toBe('REQUEST_TOO_LARGE');
    expect(JSON.parse(res.body).code).toBe('REQUEST_TOO_LARGE');
    expect(seen.length).toBe(before);
    const atLimit = await ask(port, HOST, '/acme/shop/api/books', {
      method: 'POST',
      body: 'x'.repeat(LIMIT),
    });
    expect(atLimit.status).toBe(200);
  });

  it('refuses a chunked body over 10 MB with the same 413 JSON, and its backend never gets the whole body', {
    timeout: 60_000,
  }, async () => {
    // HAProxy closes a refused upload with the rest of the body unread, so the kernel may send a
    // reset that overtakes its answer (docs/decisions.md): such an attempt is tried again, and
    // the gateway must have refused it all the same (its backend never got the body's end).
    let res: Answer | undefined;
    let attempt = 0;
    for (; attempt < 3 && !res; attempt++)
      res = await upload(
        port,
        HOST,
        `/acme/shop/api/books/chunked-11m-${attempt}`,
        11 * 1024 * 1024,
        true,
      ).catch(() => undefined);
    if (!res) throw new Error('three uploads over the limit were reset without an answer');
    const answer = res;
    expect(res.status).toBe(413);
    expect(res.headers['content-type']).toBe('application/json');
    expect(res.headers['x-rondo-outcome']).toBe('REQUEST_TOO_LARGE');
    expect(JSON.parse(res.body)).toEqual({
      code: 'REQUEST_TOO_LARGE',
      message: 'request body is larger than 10 MB',
      requestId: res.headers['x-request-id'],
    });
    for (let i = 0; i < attempt; i++) {
      // The backend saw each request start (its headers go first) but never its end, nor more than the limit.
      const got = seen.find((s) => s.url === `/v1/chunked-11m-${i}`);
      expect(got).toBeDefined();
      await got?.closed;
      expect(got?.complete).toBe(false);
      expect(got?.bytes).toBeLessThanOrEqual(LIMIT);
    }
    // Each attempt logged as the route owner's, with its outcome.
    const logged = () =>
      readFileSync(join(dir, 'access.log'), 'utf8')
        .trim()
        .split('\n')
        .map(parseHaproxyAccessLine)
        .flatMap((p) =>
          p.kind === 'request' && p.request.path.includes('/chunked-11m-') ? [p.request] : [],
        );
    for (let i = 0; i < 50 && logged().length < attempt; i++) await sleep(50);
    const lines = logged();
    expect(lines).toHaveLength(attempt);
    for (const l of lines) expect(l).toMatchObject({ ...owner, status: 413, outcome: 'REQUEST_TOO_LARGE' });
    expect(lines.map((l) => l.requestId)).toContain(answer.headers['x-request-id']);
    // The limit is the body's bytes: one over it is refused, exactly at it passes.
    expect((await upload(port, HOST, '/acme/shop/api/books/over', LIMIT + 1, true)).status).toBe(413);
    const at = await upload(port, HOST, '/acme/shop/api/books/at', LIMIT, true);
    expect(at.status).toBe(200);
    expect(JSON.parse(at.body).bytes).toBe(LIMIT);
  });

  it('passes a 9 MB body whole, chunked or announced', { timeout: 60_000 }, async () => {
    const size = 9 * 1024 * 1024;
    for (const chunked of [true, false]) {
      const res = await upload(port, HOST, `/acme/shop/api/books/nine-${chunked}`, size, chunked);
      expect(res.status, `chunked: ${chunked}`).toBe(200);
      expect(res.headers['x-rondo-outcome']).toBe('BACKEND_RESPONSE');
      expect(JSON.parse(res.body).bytes).toBe(size);
      const got = seen.find((s) => s.url === `/v1/nine-${chunked}`);
      expect(got).toMatchObject({ bytes: size, complete: true });
      expect(got?.headers['transfer-encoding']).toBe(chunked ? 'chunked' : undefined);
    }
  });

  it('answers 503 NO_HEALTHY_BACKEND when no replica is ready or none answers', async () => {
    for (const path of ['/acme/shop/idle/ep/x', '/acme/shop/down/ep/x']) {
      const res = await ask(port, HOST, path);
      expect(res.status, path).toBe(503);
      expect(res.headers['x-rondo-outcome']).toBe('NO_HEALTHY_BACKEND');
      expect(JSON.parse(res.body)).toMatchObject({
        code: 'NO_HEALTHY_BACKEND',
        requestId: res.headers['x-request-id'],
      });
    }
  });

  it('retries a replica that refuses the connection on another one', async () => {
    for (let i = 0; i < 6; i++) expect((await ask(port, HOST, `/acme/shop/half/ep/${i}`)).status).toBe(200);
  });

  it("answers an organization listener only from its environment's networks", async () => {
    const res = await ask(open, 'whatever', '/shop/api/books/1');
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body).url).toBe('/1');
    await expect(ask(closed, 'whatever', '/shop/api/books/1')).rejects.toThrow();
  });

  it('writes one JSON access-log line per request that parses into a GatewayRequest of the route owner', async () => {
    const res = await ask(port, HOST, '/acme/shop/api/books/log-me?token=secret');
    const requestId = res.headers['x-request-id'];
    await ask(port, HOST, '/acme/shop/api/other');
    await ask(port, HOST, '/nobody');
    let lines: string[] = [];
    for (let i = 0; i < 50 && !lines.some((l) => l.includes('/nobody')); i++) {
      await sleep(50);
      lines = readFileSync(join(dir, 'access.log'), 'utf8').trim().split('\n');
    }
    const parsed = lines.map(parseHaproxyAccessLine);
    expect(parsed.filter((p) => p.kind === 'invalid')).toEqual([]);
    const mine = parsed.find((p) => p.kind === 'request' && p.request.requestId === requestId);
    expect(mine).toMatchObject({
      kind: 'request',
      request: {
        ...owner,
        method: 'GET',
        path: '/acme/shop/api/books/log-me',
        status: 200,
        outcome: 'BACKEND_RESPONSE',
      },
    });
    expect(lines.join('\n')).not.toContain('secret');
    const fallback = parsed.filter((p) => p.kind === 'request' && p.request.path === '/acme/shop/api/other');
    expect(fallback[0]).toMatchObject({
      request: { status: 404, outcome: 'RESOURCE_NOT_FOUND', componentId: 'cmp-1' },
    });
    expect(parsed.at(-1)).toEqual({ kind: 'unattributed' });
  });

  it('refuses a configuration HAProxy cannot load, with its message, and keeps serving the last one', async () => {
    const running = await haproxy.running();
    const good = haproxyConfig(state(), settings);
    const broken = {
      ...good,
      text: `${good.text}\nfrontend broken\n  bind 127.0.0.1:notaport\n`,
      identity: 'rondo-broken',
    };
    await expect(haproxy.load(broken)).rejects.toThrow(
      /HAProxy refused the gateway configuration: .*notaport/s,
    );
    expect(await haproxy.running()).toBe(running);
    expect((await ask(port, HOST, '/acme/shop/api/books/a')).status).toBe(200);
  });

  it('makes 100 route changes under GET and POST load without dropping or resetting a connection', {
    timeout: 120_000,
  }, async () => {
    const load = startStrictLoad(port, HOST, ['/acme/shop/api/books/a', '/acme/shop/api/books/b'], 8);
    await sleep(300);
    for (let i = 1; i <= 100; i++) {
      expect(await haproxy.load(haproxyConfig(state(i), settings))).toBe(true);
      await sleep(20);
    }
    await sleep(300);
    const result = await load.stop();
    expect(result.failures).toEqual([]);
    expect(result.ok).toBeGreaterThan(100);
    expect((await ask(port, HOST, '/acme/shop/extra99/ep/x')).status).toBe(200);
    // The same configuration again is not a reload.
    expect(await haproxy.load(haproxyConfig(state(100), settings))).toBe(false);
    // Requests are logged; of HAProxy's notices only the listeners' own stop at a reload (and its HTTP client's) are there.
    const lines = readFileSync(join(dir, 'access.log'), 'utf8').trim().split('\n');
    const notices = lines.filter((l) => parseHaproxyAccessLine(l).kind === 'invalid');
    expect(notices.filter((l) => !/^Proxy (public|internal-acme-\w+|<HTTPCLIENT>) stopped/.test(l))).toEqual(
      [],
    );
    expect(lines.length - notices.length).toBeGreaterThanOrEqual(result.ok);
  });
});
