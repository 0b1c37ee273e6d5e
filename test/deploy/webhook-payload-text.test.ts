import { createHmac } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPLACEMENT } from '../../src/domain/storable-text.js';
import { type PlatformTestRondo, startPlatformRondo } from '../helpers/platform.js';
import { DRIVERS } from '../helpers/stores.js';

const C = '/api/v1/orgs/default/projects/shop/components';

/** What a webhook's sender wrote is kept as it can be stored (G2): NUL and lone surrogates in a payload. */
describe.each(DRIVERS)('a webhook payload the store would refuse (%s)', (driver) => {
  let t: PlatformTestRondo;
  let secret = '';
  let url = '';

  beforeAll(async () => {
    t = await startPlatformRondo(driver);
    await t.call('POST', '/api/v1/orgs/default/projects', { body: { name: 'shop' } });
    const c = await t.call('POST', C, {
      body: {
        name: 'api',
        type: 'service',
        source: { repoUrl: 'https://git.example.com/acme/shop.git', branch: 'main' },
        buildPreset: 'dockerfile',
        buildConfigs: { dockerFilePath: 'Dockerfile' },
        autoBuild: true,
      },
    });
    expect(c.status, JSON.stringify(c.body)).toBe(201);
    const hook = await t.call('POST', `${C}/api/webhook/secret`);
    expect(hook.status).toBe(200);
    secret = hook.body.secret;
    url = new URL(hook.body.urls.github).pathname;
  });
  afterAll(() => t?.close());

  it('refuses a push naming another repository with NUL and a lone surrogate, and records it', async () => {
    const raw = JSON.stringify({
      ref: 'refs/heads/main',
      before: 'a'.repeat(40),
      after: 'b'.repeat(40),
      repository: { clone_url: 'https://evil.example/a\u0000b.git', html_url: 'https://evil.example/\ud800' },
      commits: [],
    });
    const res = await t.rondo.api.inject({
      method: 'POST',
      url,
      headers: {
        'content-type': 'application/json',
        'x-github-event': 'push',
        'x-github-delivery': 'nul-1',
        'x-hub-signature-256': `sha256=${createHmac('sha256', secret).update(raw).digest('hex')}`,
      },
      payload: raw,
    });
    expect(res.statusCode, res.body).toBe(400);
    const log = await t.call('GET', '/api/v1/orgs/default/webhook-deliveries?limit=10');
    const delivery = log.body.items.find((d: unknown) => JSON.stringify(d).includes('nul-1'));
    expect(delivery).toMatchObject({ status: 400, outcome: 'refused' });
    expect(delivery.detail.repositories).toEqual(
      expect.arrayContaining([
        `https://evil.example/a${REPLACEMENT}b.git`,
        `https://evil.example/${REPLACEMENT}`,
      ]),
    );
  });
});
