import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, realpathSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, sep } from 'node:path';
import { checkRelativePath, checkRepoUrl, isSshUrl, sshPrivateKey } from '../domain/source.js';
import { storableText } from '../domain/storable-text.js';
import { resolvedHostProblem } from './repository-address.js';

/**
 * Fetches one commit of a repository into a directory, the way a build's `init` step needs it
 * (§4, F3): shallow where the server allows, no prompts, only the allowed protocols, arguments
 * after `--`, and a component directory that provably stays inside the checkout.
 */
export interface FetchOptions {
  repoUrl: string;
  ref: { commit: string } | { branch: string };
  /** An empty directory the checkout goes into. */
  dir: string;
  componentPath: string;
  /**
   * The stored source credential of a private repository: an access token (https; sent as a
   * header) or an SSH private key (ssh URLs; a 0600 file while git runs). Never in a URL or a log.
   */
  token?: string;
  timeoutMs: number;
}

export interface FetchedSource {
  commit: string;
  componentDir: string;
  /** The commit's committer time (DORA lead time starts there). */
  committedAt?: Date;
}

/** A failure a person can act on; the message goes to the build log as is. */
export class SourceError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SourceError';
  }
}

const COMMIT = /^[0-9a-f]{7,40}$/;

/** An http(s) URL's origin, so a token is sent only to the host it belongs to (not to submodules elsewhere). */
function originOf(repoUrl: string): string | undefined {
  try {
    const u = new URL(repoUrl);
    return u.protocol === 'https:' || u.protocol === 'http:' ? `${u.origin}/` : undefined;
  } catch {
    return undefined;
  }
}

/**
 * How git authenticates to the repository: an access token sent as a header to its own origin
 * (https), or an SSH private key (ssh URLs).
 */
type GitCredential = { token: string; origin: string } | { sshKey: string };

/**
 * The credential a stored source credential gives for `repoUrl`: a token for http(s) URLs, a
 * private key for ssh URLs; none for a public repository. A key stored for a non-ssh URL is
 * a mistake the build names.
 */
function credentialFor(repoUrl: string, stored: string | undefined): { credential?: GitCredential } {
  if (!stored) return {};
  const sshKey = sshPrivateKey(stored);
  if (sshKey) {
    if (!isSshUrl(repoUrl))
      throw new SourceError(
        'the stored source credential is an SSH key, and the repository URL is not an ssh URL; use ssh://… or user@host:path, or store an access token instead',
      );
    return { credential: { sshKey } };
  }
  const origin = originOf(repoUrl);
  return origin ? { credential: { token: stored, origin } } : {};
}

/**
 * ssh as git runs it: no configuration, keys, agent or known hosts of the host's user (ssh reads
 * those from the account, not from HOME), only the component's key if it has one. Host keys are
 * accepted on first use and remembered nowhere, so each call starts afresh.
 */
function sshCommand(keyFile: string | undefined): string {
  // GIT_SSH_COMMAND goes through a shell; the path is Rondo's own (a temporary directory).
  if (keyFile?.includes("'")) throw new SourceError(`cannot run ssh with ${keyFile}: the path holds a quote`);
  return [
    'ssh -F /dev/null -o BatchMode=yes -o IdentitiesOnly=yes',
    `-o IdentityFile=${keyFile ? `'${keyFile}'` : 'none'}`,
    '-o StrictHostKeyChecking=accept-new -o UserKnownHostsFile=/dev/null',
  ].join(' ');
}

function gitEnv(home: string, credential?: GitCredential, keyFile?: string): NodeJS.ProcessEnv {
  // The token travels as an extra header, configured through the environment: never in argv
  // (visible to `ps`), never in a URL (echoed in errors), and only for the repository's own host.
  const header =
    credential && 'token' in credential
      ? {
          GIT_CONFIG_COUNT: '1',
          GIT_CONFIG_KEY_0: `http.${credential.origin}.extraHeader`,
          GIT_CONFIG_VALUE_0: `Authorization: Basic ${Buffer.from(`x-access-token:${credential.token}`).toString('base64')}`,
        }
      : {};
  return {
    ...header,
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: home,
    // Remote helpers such as ext:: could run commands; only these transports are allowed.
    GIT_ALLOW_PROTOCOL: 'https:http:ssh:git:file',
    GIT_TERMINAL_PROMPT: '0',
    GIT_ASKPASS: '/bin/false',
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_CONFIG_GLOBAL: '/dev/null',
    GIT_SSH_COMMAND: sshCommand(keyFile),
  };
}

function git(
  args: string[],
  opts: { cwd: string; home: string; timeoutMs: number; credential?: GitCredential },
): Promise<string> {
  // A key lives in a private directory for this call only, removed when git is done.
  const key = opts.credential && 'sshKey' in opts.credential ? opts.credential.sshKey : undefined;
  const keyDir = key === undefined ? undefined : mkdtempSync(join(tmpdir(), 'rondo-git-key-'));
  const keyFile = keyDir && join(keyDir, 'key');
  if (keyFile && key) writeFileSync(keyFile, key, { mode: 0o600 });
  return new Promise<string>((resolvePromise, reject) => {
    execFile(
      'git',
      args,
      {
        cwd: opts.cwd,
        env: gitEnv(opts.home, opts.credential, keyFile),
        timeout: opts.timeoutMs,
        maxBuffer: 16 * 1024 * 1024,
      },
      (err, stdout, stderr) => {
        if (!err) return resolvePromise(stdout.trim());
        const e = err as NodeJS.ErrnoException & { killed?: boolean };
        if (e.killed)
          reject(
            new SourceError(
              `git ${args[0]} timed out after ${Math.round(opts.timeoutMs / 1000)} s; is the repository reachable?`,
            ),
          );
        else
          reject(
            new SourceError(
              // The last lines say why (ssh's reason comes before git's own four-line epilogue);
              // ssh's note about a first-seen host key does not. A remote's own messages may hold
              // NUL and bytes that are not UTF-8: the message is made storable (it ends in records).
              storableText(stderr)
                .trim()
                .split('\n')
                .filter((l) => l && !l.startsWith('Warning: Permanently added'))
                .slice(-4)
                .join('; ') || `git ${args[0]} failed`,
            ),
          );
      },
    );
  }).finally(() => {
    if (keyDir) rmSync(keyDir, { recursive: true, force: true });
  });
}

/** Resolves the component directory inside the checkout, refusing anything that leaves it (`..`, symlinks). */
export function componentDirectory(root: string, componentPath: string): string {
  const problem = checkRelativePath(componentPath);
  if (problem) throw new SourceError(`component path '${componentPath}' ${problem}`);
  const wanted = resolve(root, componentPath);
  if (!existsSync(wanted))
    throw new SourceError(
      `component path '${componentPath}' does not exist in the repository at this commit`,
    );
  const real = realpathSync(wanted);
  const realRoot = realpathSync(root);
  if (real !== realRoot && !real.startsWith(realRoot + sep)) {
    throw new SourceError(
      `component path '${componentPath}' leads outside the repository (through a symbolic link)`,
    );
  }
  if (!statSync(real).isDirectory())
    throw new SourceError(`component path '${componentPath}' is not a directory`);
  return real;
}

/** The API's checks of the URL again (a stored URL may predate them), and the address its host has now. */
async function checkRepository(repoUrl: string): Promise<void> {
  const problem = checkRepoUrl(repoUrl) ?? (await resolvedHostProblem(repoUrl));
  if (problem) throw new SourceError(`repository URL ${problem}`);
}

export async function fetchSource(o: FetchOptions): Promise<FetchedSource> {
  await checkRepository(o.repoUrl);
  if ('commit' in o.ref && !COMMIT.test(o.ref.commit))
    throw new SourceError(`'${o.ref.commit}' is not a commit id (7–40 hex digits)`);
  mkdirSync(o.dir, { recursive: true });
  const home = join(o.dir, '..');
  const auth = credentialFor(o.repoUrl, o.token);
  const run = (args: string[]) => git(args, { cwd: o.dir, home, timeoutMs: o.timeoutMs, ...auth });
  // No template: the sample hooks are files to write (slow on some disks) that nothing here uses.
  await run(['init', '-q', '--template=', '.']);
  const want = 'commit' in o.ref ? o.ref.commit : `refs/heads/${o.ref.branch}`;
  try {
    await run(['fetch', '-q', '--depth', '1', '--no-tags', '--', o.repoUrl, want]);
  } catch (err) {
    if (!('commit' in o.ref))
      throw new SourceError(
        `cannot fetch branch '${o.ref.branch}' of ${o.repoUrl}: ${(err as Error).message}`,
      );
    // Servers may refuse unadvertised (or abbreviated) commits; fall back to the branches.
    await run(['fetch', '-q', '--no-tags', '--', o.repoUrl, '+refs/heads/*:refs/remotes/origin/*']);
  }
  const target = 'commit' in o.ref ? o.ref.commit : 'FETCH_HEAD';
  try {
    await run(['-c', 'advice.detachedHead=false', 'checkout', '-q', '--detach', `${target}^{commit}`, '--']);
  } catch {
    throw new SourceError(`commit ${target} does not exist in ${o.repoUrl}`);
  }
  const commit =
    'commit' in o.ref && /^[0-9a-f]{40}$/.test(o.ref.commit)
      ? o.ref.commit
      : await run(['rev-parse', 'HEAD']);
  if (existsSync(join(o.dir, '.gitmodules'))) {
    await run(['submodule', 'update', '-q', '--init', '--recursive', '--depth', '1']);
  }
  const committed = Date.parse(await run(['log', '-1', '--format=%cI', 'HEAD']).catch(() => ''));
  return {
    commit,
    componentDir: componentDirectory(o.dir, o.componentPath),
    ...(Number.isFinite(committed) ? { committedAt: new Date(committed) } : {}),
  };
}

/** The commit a branch points at now (`git ls-remote`), without fetching anything. */
export async function resolveBranchHead(
  repoUrl: string,
  branch: string,
  timeoutMs: number,
  token?: string,
): Promise<string> {
  await checkRepository(repoUrl);
  const out = await git(['ls-remote', '--', repoUrl, `refs/heads/${branch}`], {
    cwd: '/',
    home: '/nonexistent',
    timeoutMs,
    ...credentialFor(repoUrl, token),
  });
  const sha = out.split(/\s+/)[0];
  if (!sha || !/^[0-9a-f]{40}$/.test(sha))
    throw new SourceError(`branch '${branch}' does not exist in ${repoUrl}`);
  return sha;
}

/**
 * The files that differ between two commits (`before` null: every file of `after`), fetched
 * without blobs into a scratch repository under `dir`. For webhook deliveries and polls whose
 * payload does not list the files (Bitbucket, a push of many commits).
 */
export async function changedFiles(
  repoUrl: string,
  before: string | null,
  after: string,
  dir: string,
  timeoutMs: number,
  token?: string,
): Promise<string[]> {
  await checkRepository(repoUrl);
  mkdirSync(dir, { recursive: true });
  const auth = credentialFor(repoUrl, token);
  const run = (args: string[]) => git(args, { cwd: dir, home: dir, timeoutMs, ...auth });
  await run(['init', '-q', '--bare', '.']);
  const wanted = before ? [before, after] : [after];
  await run(['fetch', '-q', '--no-tags', '--filter=blob:none', '--', repoUrl, ...wanted]).catch(async () => {
    await run([
      'fetch',
      '-q',
      '--no-tags',
      '--filter=blob:none',
      '--',
      repoUrl,
      '+refs/heads/*:refs/heads/*',
    ]);
  });
  const out = before
    ? await run(['diff', '--name-only', '--no-renames', before, after, '--'])
    : await run(['ls-tree', '-r', '--name-only', after]);
  return out.split('\n').filter(Boolean);
}

/** Every branch and tag of a repository with its commit (`git ls-remote`), without fetching. */
export async function remoteRefs(
  repoUrl: string,
  timeoutMs: number,
  token?: string,
): Promise<Record<string, string>> {
  await checkRepository(repoUrl);
  const out = await git(['ls-remote', '--heads', '--tags', '--', repoUrl], {
    cwd: '/',
    home: '/nonexistent',
    timeoutMs,
    ...credentialFor(repoUrl, token),
  });
  const refs: Record<string, string> = {};
  for (const line of out.split('\n')) {
    const [sha, ref] = line.split('\t');
    // Annotated tags appear twice; the peeled `^{}` line names the commit.
    if (!sha || !ref) continue;
    if (ref.endsWith('^{}')) refs[ref.slice(0, -3)] = sha;
    else refs[ref] ??= sha;
  }
  return refs;
}
