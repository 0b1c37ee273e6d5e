import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyReply } from 'fastify';
import type { Api } from './api.js';

const here = dirname(fileURLToPath(import.meta.url));

/**
 * Where `vite build` put the console: `dist/console` beside the compiled server (`dist/api/…`) or
 * above the sources when the server runs from `src/` (tests, tsx).
 */
export function consoleDirectory(): string | undefined {
  for (const dir of [join(here, '..', 'console'), join(here, '..', '..', 'dist', 'console')]) {
    if (existsSync(join(dir, 'index.html'))) return dir;
  }
  return undefined;
}

// The page loads only its own scripts and styles and talks only to this origin.
const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

/** Paths the console never answers: the API and Git providers' webhooks keep their own 404s. */
const NOT_CONSOLE = /^\/(api|hooks)(\/|$)/;

function sendIndex(reply: FastifyReply, dir: string) {
  return reply
    .header('content-security-policy', CONTENT_SECURITY_POLICY)
    .header('x-frame-options', 'DENY')
    .header('referrer-policy', 'same-origin')
    .sendFile('index.html', dir, { cacheControl: false })
    .header('cache-control', 'no-cache');
}

/**
 * Serves the web console at `/`: hashed assets (`/assets/…`) cached for a year as immutable (a
 * new build has new names), `index.html` revalidated on every visit, and `index.html` for any
 * other GET path so deep links work after a reload. Without a built console nothing is served.
 */
export async function consolePlugin(app: Api): Promise<void> {
  const dir = consoleDirectory();
  if (!dir) return;
  await app.register(fastifyStatic, { root: dir, serve: false, preCompressed: true });
  app.get('/assets/*', { config: { public: true }, schema: { hide: true } }, (req, reply) => {
    const file = (req.params as { '*': string })['*'];
    return reply.sendFile(`assets/${file}`, dir, { maxAge: '365d', immutable: true });
  });
  app.get('/*', { config: { public: true }, schema: { hide: true } }, (req, reply) => {
    const path = req.url.split('?')[0] ?? '/';
    if (NOT_CONSOLE.test(path)) return reply.callNotFound();
    return sendIndex(reply, dir);
  });
}
