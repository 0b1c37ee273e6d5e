import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { consoleDirectory } from '../../src/api/console.js';
import { startTestRondo, type TestRondo } from '../helpers/rondo.js';

describe('the console served by the control plane', () => {
  let t: TestRondo;
  beforeAll(async () => {
    if (!consoleDirectory()) throw new Error('the console is not built: run `npm run build` first');
    t = await startTestRondo('pglite');
  });
  afterAll(async () => t?.close());

  const page = (url: string) => t.call('GET', url, { token: null });

  it('answers index.html at / and at any deep link, revalidated on every visit', async () => {
    for (const url of ['/', '/orgs/default', '/orgs/default/projects/p/components/c/deploy?x=1']) {
      const res = await page(url);
      expect(res.status, url).toBe(200);
      expect(res.headers['content-type']).toMatch(/^text\/html/);
      expect(res.headers['cache-control']).toBe('no-cache');
      expect(res.headers['content-security-policy']).toContain("script-src 'self'");
      expect(res.body).toContain('<div id="root">');
    }
  });

  it('caches hashed assets for a year as immutable, and serves them compressed', async () => {
    const dir = consoleDirectory()!;
    const script = readdirSync(join(dir, 'assets')).find((f) => f.endsWith('.js'))!;
    const res = await t.rondo.api.inject({
      url: `/assets/${script}`,
      headers: { 'accept-encoding': 'gzip' },
    });
    expect(res.statusCode).toBe(200);
    expect(res.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    expect(res.headers['content-encoding']).toBe('gzip');
    expect((await page('/assets/missing.js')).status).toBe(404);
  });

  it('leaves the API and webhooks their own answers', async () => {
    const api = await page('/api/v1/no-such-route');
    expect(api.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect((await page('/api/v1/me')).status).toBe(401);
    const hook = await page('/hooks/nothing');
    expect(hook.headers['content-type']).toMatch(/^application\/problem\+json/);
  });

  it('puts no token in the page', async () => {
    const res = await page('/');
    expect(res.body).not.toContain(t.adminToken);
    expect(res.body).not.toMatch(/rondo_[A-Za-z0-9_-]{20,}/);
  });
});
