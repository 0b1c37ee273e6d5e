import { afterEach, describe, expect, it, vi } from 'vitest';

// The names a test needs, resolved the way a cloud's resolver or a rebinding service would.
const answers = new Map([
  ['imds.example', ['10.0.0.5', '169.254.169.254']],
  ['git.example', ['10.0.0.5', '2001:db8::5']],
  ['v6.example', ['fe80::1']],
]);
vi.mock('node:dns/promises', () => ({
  lookup: vi.fn(async (host: string) => {
    const found = answers.get(host);
    if (!found) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' });
    return found.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
  }),
}));

const { resolvedHostProblem } = await import('../../src/builds/repository-address.js');
const { fetchSource } = await import('../../src/builds/git-source.js');
const { allowLinkLocalRepositories } = await import('../../src/domain/repository-host.js');

/** G2 #11: a repository host whose name resolves to a link-local address is refused before git runs. */
describe('the address a repository host resolves to', () => {
  afterEach(() => allowLinkLocalRepositories(false));

  it('refuses a name with any link-local or metadata address', async () => {
    expect(await resolvedHostProblem('https://imds.example/repo.git')).toMatch(
      /'imds\.example' resolves to 169\.254\.169\.254.*RONDO_ALLOW_LINK_LOCAL_REPOSITORIES/,
    );
    expect(await resolvedHostProblem('git@v6.example:repo.git')).toMatch(/resolves to fe80::1/);
  });

  it('accepts ordinary addresses, names that do not resolve, and file URLs', async () => {
    expect(await resolvedHostProblem('https://git.example/repo.git')).toBeUndefined();
    expect(await resolvedHostProblem('https://nowhere.example/repo.git')).toBeUndefined();
    expect(await resolvedHostProblem('file:///srv/git/repo')).toBeUndefined();
  });

  it('accepts them all when the site allows link-local repositories', async () => {
    allowLinkLocalRepositories(true);
    expect(await resolvedHostProblem('https://imds.example/repo.git')).toBeUndefined();
  });

  it('stops a fetch before git connects', async () => {
    const fetch = (repoUrl: string) =>
      fetchSource({
        repoUrl,
        ref: { branch: 'main' },
        dir: '/nonexistent/rondo-test',
        componentPath: '.',
        timeoutMs: 1000,
      });
    await expect(fetch('https://imds.example/repo.git')).rejects.toThrow(/resolves to 169\.254\.169\.254/);
    await expect(fetch('http://169.254.169.254/latest')).rejects.toThrow(/link-local or cloud metadata/);
    await expect(fetch('https://u:hunter2@git.example/r.git')).rejects.toThrow(/rondo source-token set/);
  });
});
