import { describe, expect, it } from 'vitest';
import {
  checkGitRef,
  checkRelativePath,
  checkRepoUrl,
  isSshPrivateKey,
  isSshUrl,
  normalizeRelativePath,
} from './source.js';

describe('checkRepoUrl', () => {
  it.each([
    'https://github.com/acme/shop.git',
    'http://git.internal:8080/shop',
    'ssh://git@github.com/acme/shop.git',
    'git://git.example.com/shop',
    'file:///srv/git/shop',
    'git@github.com:acme/shop.git',
  ])('accepts %s', (url) => expect(checkRepoUrl(url)).toBeUndefined());

  it.each([
    ['ext::sh -c touch% /tmp/pwned', /remote-helper/],
    ['fd::17', /remote-helper/],
    ['-uhttps://evil', /start with "-"/],
    ['--upload-pack=touch /tmp/x', /start with "-"/],
    ['https://github.com/a/b c', /spaces/],
    ['https://github.com/a\nb', /spaces/],
    ['ftp://example.com/repo', /scheme 'ftp'/],
    ['javascript:alert(1)', /scheme/],
    ['https://-oProxyCommand=x/repo', /host must not start/],
    ['not a url', /spaces/],
    ['', /empty/],
  ])('rejects %j', (url, message) => expect(checkRepoUrl(url)).toMatch(message));
});

describe('checkRepoUrl: credentials, "..", link-local hosts (G2 #9–#11)', () => {
  it.each([
    'https://user:s3cret@github.com/acme/shop.git',
    'https://ghp_0123456789abcdef@github.com/acme/shop.git',
    'http://user:pw@git.internal/shop',
    'ssh://git:s3cret@github.com/acme/shop.git',
    'git://user@git.example.com/shop',
  ])('refuses credentials in %s without repeating them', (url) => {
    const problem = checkRepoUrl(url);
    expect(problem).toMatch(/must not carry credentials.*rondo source-token set/);
    expect(problem).not.toMatch(/s3cret|ghp_|pw/);
  });

  it('accepts the user name ssh needs', () => {
    expect(checkRepoUrl('ssh://git@github.com/acme/shop.git')).toBeUndefined();
    expect(checkRepoUrl('git@github.com:acme/shop.git')).toBeUndefined();
  });

  it.each([
    'file:///tmp/../etc',
    'file:///srv/git/%2e%2e/secret',
    'file:///srv/git/%2E./secret',
    'file:///srv/..',
    'https://github.com/acme/../other/repo.git',
    'git@github.com:../x',
  ])('refuses ".." in %s as sent, before the URL parser resolves it', (url) =>
    expect(checkRepoUrl(url)).toMatch(/must not contain "\.\."/),
  );

  it('accepts dots that are not a ".." segment', () => {
    expect(checkRepoUrl('file:///srv/git/shop..old')).toBeUndefined();
    expect(checkRepoUrl('https://github.com/acme/.github.git')).toBeUndefined();
  });

  it.each([
    'http://169.254.169.254/latest/meta-data',
    'https://169.254.1.1/repo.git',
    'http://2852039166/repo',
    'http://0xa9.0xfe.0xa9.0xfe/repo',
    'git://2852039166/repo',
    'git://0251.0376.0251.0376/repo',
    'ssh://git@169.254.169.254/repo',
    'git@169.254.169.254:repo.git',
    'http://[fe80::1]/repo',
    'http://[febf:ffff::1]/repo',
    'http://[::ffff:169.254.169.254]/repo',
    'git://[::ffff:a9fe:a9fe]/repo',
    'http://[fd00:ec2::254]/repo',
    'http://100.100.100.200/repo',
    'http://metadata.google.internal/computeMetadata/v1/',
    'http://METADATA.google.internal./x',
    'git://metadata/x',
    'ssh://git@instance-data/x',
    'git://169%2e254%2e169%2e254/x',
  ])('refuses the link-local or metadata host of %s', (url) =>
    expect(checkRepoUrl(url)).toMatch(/link-local or cloud metadata.*RONDO_ALLOW_LINK_LOCAL_REPOSITORIES/),
  );

  it.each([
    'http://169.253.255.255/repo',
    'http://169.255.0.1/repo',
    'http://[fec0::1]/repo',
    'http://[::1]/repo',
    'http://10.0.0.1/repo',
    'http://127.0.0.1:9418/repo',
    'https://metadata.example.com/repo',
  ])('accepts the ordinary host of %s', (url) => expect(checkRepoUrl(url)).toBeUndefined());

  it('accepts link-local hosts when the site allows them', () => {
    expect(checkRepoUrl('http://169.254.169.254/repo', { allowLinkLocal: true })).toBeUndefined();
    expect(checkRepoUrl('git@[fe80::1]:repo', { allowLinkLocal: true })).toBeDefined();
    expect(checkRepoUrl('ssh://git@[fe80::1]/repo', { allowLinkLocal: true })).toBeUndefined();
  });
});

describe('checkGitRef', () => {
  it.each(['main', 'release/1.2', 'feature-x'])('accepts %s', (ref) =>
    expect(checkGitRef(ref)).toBeUndefined(),
  );
  it.each(['-x', 'a..b', 'a b', 'a~1', 'x.lock', '/x', 'a:b', ''])('rejects %j', (ref) =>
    expect(checkGitRef(ref)).toBeDefined(),
  );
});

describe('checkRelativePath', () => {
  it.each(['.', 'services/api', './web'])('accepts %s', (p) => expect(checkRelativePath(p)).toBeUndefined());
  it.each([
    ['../other', /\.\./],
    ['a/../../b', /\.\./],
    ['/etc', /relative/],
    ['C:/x', /relative/],
    ['a\\b', /separator/],
    ['-x', /start with/],
  ])('rejects %j', (p, message) => expect(checkRelativePath(p)).toMatch(message));

  it('normalizes', () => {
    expect(normalizeRelativePath('./a/b')).toBe('a/b');
    expect(normalizeRelativePath('.')).toBe('.');
  });
});

describe('source credentials', () => {
  const openssh =
    '-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ==\nAAAAECfvkzQsLJrAu4DC+N0Z\n-----END OPENSSH PRIVATE KEY-----\n';
  it('tells an SSH private key from an access token', () => {
    expect(isSshPrivateKey(openssh)).toBe(true);
    expect(isSshPrivateKey(openssh.replace(/\n/g, '\r\n'))).toBe(true);
    expect(isSshPrivateKey(openssh.replaceAll('OPENSSH', 'RSA'))).toBe(true);
    expect(isSshPrivateKey('ghp_abc123')).toBe(false);
    // A public key, or a key with something around it, is not a private key.
    expect(isSshPrivateKey('ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI x@y')).toBe(false);
    expect(isSshPrivateKey(`${openssh}; rm -rf /`)).toBe(false);
    expect(isSshPrivateKey(openssh.replace('-----END', '$(reboot)\n-----END'))).toBe(false);
  });

  it('knows which URLs git reaches over ssh', () => {
    expect(isSshUrl('ssh://git@example.com/a/b.git')).toBe(true);
    expect(isSshUrl('git@example.com:a/b.git')).toBe(true);
    expect(isSshUrl('https://example.com/a/b.git')).toBe(false);
    expect(isSshUrl('file:///srv/a')).toBe(false);
  });
});
