import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fetchSource, resolveBranchHead } from '../../src/builds/git-source.js';
import { createRepo, type TestRepo } from '../helpers/git.js';
import { serveGitSsh, sshKeyPair } from '../helpers/git-ssh.js';
import { freePort } from '../helpers/platform.js';

/** Real repositories made by the test, fetched over file://, git:// (git daemon) and ssh:// (sshd). */
describe('fetching a commit of a component', () => {
  const root = mkdtempSync(join(tmpdir(), 'rondo-git-'));
  const repo = join(root, 'repo');
  let _g: TestRepo['git'];
  let first = '';
  let second = '';
  let n = 0;
  const checkout = () => join(root, `co-${n++}`, 'src');

  beforeAll(() => {
    const r = createRepo(repo);
    _g = r.git;
    first = r.commit({ 'services/api/server.js': 'v1' }, 'one');
    symlinkSync('/etc', join(repo, 'escape'));
    second = r.commit({ 'services/api/server.js': 'v2' }, 'two');
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('fetches the head of a branch and resolves the component directory', async () => {
    const dir = checkout();
    const got = await fetchSource({
      repoUrl: `file://${repo}`,
      ref: { branch: 'main' },
      dir,
      componentPath: 'services/api',
      timeoutMs: 20_000,
    });
    expect(got.commit).toBe(second);
    expect(readFileSync(join(got.componentDir, 'server.js'), 'utf8')).toBe('v2');
  });

  it('fetches an exact earlier commit', async () => {
    const got = await fetchSource({
      repoUrl: `file://${repo}`,
      ref: { commit: first },
      dir: checkout(),
      componentPath: 'services/api',
      timeoutMs: 20_000,
    });
    expect(got.commit).toBe(first);
    expect(readFileSync(join(got.componentDir, 'server.js'), 'utf8')).toBe('v1');
  });

  it('says so when the commit does not exist', async () => {
    await expect(
      fetchSource({
        repoUrl: `file://${repo}`,
        ref: { commit: 'deadbeefdeadbeefdeadbeefdeadbeefdeadbeef' },
        dir: checkout(),
        componentPath: '.',
        timeoutMs: 20_000,
      }),
    ).rejects.toThrow(/commit deadbeef[0-9a-f]* does not exist in file:\/\//);
  });

  it('refuses component paths that leave the repository, by .. or by symbolic link', async () => {
    await expect(
      fetchSource({
        repoUrl: `file://${repo}`,
        ref: { branch: 'main' },
        dir: checkout(),
        componentPath: 'escape',
        timeoutMs: 20_000,
      }),
    ).rejects.toThrow(/leads outside the repository/);
    await expect(
      fetchSource({
        repoUrl: `file://${repo}`,
        ref: { branch: 'main' },
        dir: checkout(),
        componentPath: '../x',
        timeoutMs: 20_000,
      }),
    ).rejects.toThrow(/must not contain/);
    await expect(
      fetchSource({
        repoUrl: `file://${repo}`,
        ref: { branch: 'main' },
        dir: checkout(),
        componentPath: 'nope',
        timeoutMs: 20_000,
      }),
    ).rejects.toThrow(/does not exist/);
  });

  it('never runs a remote helper, even if a URL got past validation', async () => {
    const marker = join(root, 'pwned');
    await expect(
      fetchSource({
        repoUrl: `ext::sh -c touch% ${marker}`,
        ref: { branch: 'main' },
        dir: checkout(),
        componentPath: '.',
        timeoutMs: 20_000,
      }),
    ).rejects.toThrow(/remote-helper/);
    expect(() => readFileSync(marker)).toThrow();
  });

  it('fetches over git:// from git daemon', async () => {
    const port = await freePort();
    const daemon = spawn(
      'git',
      [
        'daemon',
        '--reuseaddr',
        `--base-path=${root}`,
        '--export-all',
        `--port=${port}`,
        '--listen=127.0.0.1',
        root,
      ],
      { stdio: 'ignore' },
    );
    try {
      await sleep(500);
      const got = await fetchSource({
        repoUrl: `git://127.0.0.1:${port}/repo`,
        ref: { branch: 'main' },
        dir: checkout(),
        componentPath: 'services/api',
        timeoutMs: 20_000,
      });
      expect(got.commit).toBe(second);
    } finally {
      daemon.kill('SIGTERM');
    }
  });

  it('fetches over ssh with the component’s key, and with nothing else', async () => {
    const keys = join(root, 'keys');
    mkdirSync(keys);
    const host = await serveGitSsh(join(root, 'sshd'));
    const deploy = sshKeyPair(keys, 'deploy');
    const stranger = sshKeyPair(keys, 'stranger');
    host.authorize(deploy.publicKey);
    const url = `ssh://root@127.0.0.1:${host.port}${repo}`;
    const fetch = (token?: string) =>
      fetchSource({
        repoUrl: url,
        ref: { branch: 'main' },
        dir: checkout(),
        componentPath: 'services/api',
        timeoutMs: 20_000,
        ...(token ? { token } : {}),
      });
    try {
      const got = await fetch(deploy.privateKey);
      expect(got.commit).toBe(second);
      expect(readFileSync(join(got.componentDir, 'server.js'), 'utf8')).toBe('v2');
      expect(await resolveBranchHead(url, 'main', 20_000, deploy.privateKey)).toBe(second);
      // No key, or a key the host does not know: refused at once (no prompt), and the message
      // carries ssh's reason, never key material.
      await expect(fetch()).rejects.toThrow(/Permission denied \(publickey\)/);
      const refused = await fetch(stranger.privateKey).catch((err: Error) => err.message);
      expect(refused).toMatch(/Permission denied \(publickey\)/);
      expect(refused).not.toContain(stranger.privateKey.split('\n')[4]);
      // A key is for ssh URLs; stored for another kind of URL, the build says so.
      await expect(
        fetchSource({
          repoUrl: `file://${repo}`,
          ref: { branch: 'main' },
          dir: checkout(),
          componentPath: '.',
          timeoutMs: 20_000,
          token: deploy.privateKey,
        }),
      ).rejects.toThrow(
        /the stored source credential is an SSH key, and the repository URL is not an ssh URL/,
      );
    } finally {
      await host.stop();
    }
  });

  it('times out on a repository that never answers, with a clear message', async () => {
    const silent = createServer(() => undefined).listen(0, '127.0.0.1');
    await new Promise((r) => silent.once('listening', r));
    const port = (silent.address() as { port: number }).port;
    try {
      await expect(
        fetchSource({
          repoUrl: `git://127.0.0.1:${port}/repo`,
          ref: { branch: 'main' },
          dir: checkout(),
          componentPath: '.',
          timeoutMs: 1500,
        }),
      ).rejects.toThrow(/timed out after 2 s; is the repository reachable\?/);
    } finally {
      silent.close();
    }
  });
});
