import { describe, expect, it } from 'vitest';
import { ClusterImages, PULL_SECRET } from './images.js';

const DIGEST = `sha256:${'ab'.repeat(32)}`;
const PLATFORM = '127.0.0.1:7073';

/** A registry that knows one tag, and records what it was asked. */
function registry(status = 200, digest = DIGEST) {
  const asked: { url: string; method: string; accept: string }[] = [];
  const fetchImpl = (async (url: string | URL | Request, init?: RequestInit) => {
    const headers = new Headers(init?.headers);
    asked.push({ url: String(url), method: init?.method ?? 'GET', accept: headers.get('accept') ?? '' });
    return new Response(null, { status, headers: status === 200 ? { 'docker-content-digest': digest } : {} });
  }) as typeof fetch;
  return { asked, fetchImpl };
}

describe('images as a cluster pulls them', () => {
  it("pulls the platform registry's images from the cluster's address, by the same digest", async () => {
    const images = new ClusterImages(PLATFORM, { address: '10.201.0.1:5000' });
    const image = `${PLATFORM}/acme/shop/web@${DIGEST}`;
    expect(images.reference(image)).toBe(`10.201.0.1:5000/acme/shop/web@${DIGEST}`);
    expect(await images.pin(image)).toBe(`10.201.0.1:5000/acme/shop/web@${DIGEST}`);
    // Elsewhere: the node's to resolve, unchanged.
    expect(await images.pin('localhost/busybox:rondo')).toBe('localhost/busybox:rondo');
    expect(images.reference('127.0.0.1:70731/x:1')).toBe('127.0.0.1:70731/x:1');
    // Idempotent: a pinned reference stays as it is.
    expect(images.reference(images.reference(image))).toBe(images.reference(image));
  });

  it('resolves a platform registry tag to its digest when pinning, so a moved tag changes nothing', async () => {
    const r = registry();
    const images = new ClusterImages(PLATFORM, { address: 'registry.lab' }, r.fetchImpl);
    expect(await images.pin(`${PLATFORM}/acme/shop/web:abc123`)).toBe(`registry.lab/acme/shop/web@${DIGEST}`);
    expect(await images.pin(`${PLATFORM}/acme/web`)).toBe(`registry.lab/acme/web@${DIGEST}`);
    expect(r.asked.map((a) => [a.method, a.url])).toEqual([
      ['HEAD', `http://${PLATFORM}/v2/acme/shop/web/manifests/abc123`],
      ['HEAD', `http://${PLATFORM}/v2/acme/web/manifests/latest`],
    ]);
    expect(r.asked[0]?.accept).toContain('application/vnd.docker.distribution.manifest.v2+json');
    // Without an address of its own the cluster pulls from where builds push, still by digest.
    const same = new ClusterImages(PLATFORM, undefined, registry().fetchImpl);
    expect(await same.pin(`${PLATFORM}/acme/web:1`)).toBe(`${PLATFORM}/acme/web@${DIGEST}`);
  });

  it('says why a tag cannot be pinned', async () => {
    const missing = new ClusterImages(PLATFORM, undefined, registry(404).fetchImpl);
    await expect(missing.pin(`${PLATFORM}/acme/web:gone`)).rejects.toThrow(
      `cannot resolve ${PLATFORM}/acme/web:gone to a digest: no such tag in the platform registry`,
    );
    const down = new ClusterImages(PLATFORM, undefined, (async () => {
      throw new Error('connect ECONNREFUSED');
    }) as typeof fetch);
    await expect(down.pin(`${PLATFORM}/acme/web:1`)).rejects.toThrow(
      /does not answer \(connect ECONNREFUSED\)/,
    );
    const odd = new ClusterImages(PLATFORM, undefined, registry(200, 'md5:x').fetchImpl);
    await expect(odd.pin(`${PLATFORM}/acme/web:1`)).rejects.toThrow(/no sha256 digest/);
  });

  it('makes a dockerconfigjson pull Secret only when the registry asks for credentials', () => {
    expect(new ClusterImages(PLATFORM, { address: 'r:5000' }).pullSecret('ns', {})).toBeUndefined();
    expect(new ClusterImages(PLATFORM, { address: 'r:5000' }).pullSecrets).toBeUndefined();
    const images = new ClusterImages(PLATFORM, { address: 'r:5000', username: 'u', password: 'p' });
    expect(images.pullSecrets).toEqual([{ name: PULL_SECRET }]);
    const secret = images.pullSecret('ns', { 'rondo.instance': 'i' });
    expect(secret).toMatchObject({
      type: 'kubernetes.io/dockerconfigjson',
      metadata: { name: PULL_SECRET, namespace: 'ns' },
    });
    const config = JSON.parse(
      Buffer.from(secret?.data?.['.dockerconfigjson'] ?? '', 'base64').toString('utf8'),
    );
    expect(config).toEqual({
      auths: { 'r:5000': { username: 'u', password: 'p', auth: Buffer.from('u:p').toString('base64') } },
    });
  });
});
