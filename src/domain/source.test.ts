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
    expect(normalizeRelativePath('./a//b/')).toBe('a/b');
    expect(normalizeRelativePath('./')).toBe('.');
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
