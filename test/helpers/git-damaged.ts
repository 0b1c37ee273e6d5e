import { spawn } from 'node:child_process';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** How the server fails a fetch: an error text with NUL and invalid UTF-8, or dying half-way. */
export type Damage = 'nul-error' | 'dies-mid-fetch';

const pkt = (payload: Buffer) =>
  Buffer.concat([Buffer.from((payload.length + 4).toString(16).padStart(4, '0')), payload]);

/**
 * Git's smart HTTP protocol on loopback for the repositories under `root`, damaged for fetches:
 * `${url}/nul-error/<repo>` answers a fetch with a sideband error message holding NUL and bytes
 * that are not UTF-8 (git prints it as it came); `${url}/dies-mid-fetch/<repo>` sends half of the
 * real pack and then drops the connection. Listing refs works on both.
 */
export async function serveDamagedGit(root: string): Promise<{ url: string; stop: () => Promise<void> }> {
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const [, damage, ...rest] = url.pathname.split('/');
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const fetching = req.method === 'POST' && body.includes('command=fetch');
      if (fetching && damage === 'nul-error') {
        res.writeHead(200, { 'content-type': 'application/x-git-upload-pack-result' });
        res.end(
          Buffer.concat([
            pkt(Buffer.from('packfile\n')),
            // Band 3: a fatal error from the remote.
            pkt(
              Buffer.concat([
                Buffer.from([3]),
                Buffer.from('pack store damaged\0at \xff\xfe offset 7\n', 'latin1'),
              ]),
            ),
            Buffer.from('0000'),
          ]),
        );
        return;
      }
      backend(root, `/${rest.join('/')}`, url.search.slice(1), req.method ?? 'GET', req.headers, body, res, {
        cutHalfway: fetching && damage === 'dies-mid-fetch',
      });
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    stop: () =>
      new Promise((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

/** `git http-backend` as CGI; with `cutHalfway`, only the first half of its answer, then the connection drops. */
function backend(
  root: string,
  path: string,
  query: string,
  method: string,
  headers: import('node:http').IncomingHttpHeaders,
  body: Buffer,
  res: ServerResponse,
  o: { cutHalfway: boolean },
): void {
  const cgi = spawn('git', ['http-backend'], {
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      GIT_PROJECT_ROOT: root,
      GIT_HTTP_EXPORT_ALL: '1',
      PATH_INFO: path,
      QUERY_STRING: query,
      REQUEST_METHOD: method,
      CONTENT_TYPE: headers['content-type'] ?? '',
      GIT_PROTOCOL: String(headers['git-protocol'] ?? ''),
      GIT_CONFIG_COUNT: '1',
      GIT_CONFIG_KEY_0: 'safe.directory',
      GIT_CONFIG_VALUE_0: '*',
    },
  });
  cgi.stdin.end(body);
  const out: Buffer[] = [];
  cgi.stdout.on('data', (c: Buffer) => out.push(c));
  cgi.on('close', () => {
    const all = Buffer.concat(out);
    const end = all.indexOf('\r\n\r\n');
    let status = 200;
    for (const line of all.subarray(0, end).toString().split('\r\n')) {
      const [name, ...value] = line.split(':');
      if (name!.toLowerCase() === 'status') status = Number.parseInt(value.join(':'), 10);
      else res.setHeader(name!, value.join(':').trim());
    }
    const answer = all.subarray(end + 4);
    if (!o.cutHalfway) return void res.writeHead(status).end(answer);
    res.writeHead(status, { 'transfer-encoding': 'chunked' });
    res.write(answer.subarray(0, Math.floor(answer.length / 2)), () => res.socket?.destroy());
  });
}
