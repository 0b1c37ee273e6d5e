import { linkLocalHostProblem, linkLocalRepositoriesAllowed } from './repository-host.js';
import { hasControlCharacters } from './text.js';

/**
 * Checks for the parts of a component's Git source. These strings later reach `git` as
 * arguments, so anything that git could read as an option or a remote helper is refused here.
 */

const SCP_LIKE = /^[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:[A-Za-z0-9._~/-]+$/;
const SCHEMES = new Set(['https:', 'http:', 'ssh:', 'git:', 'file:']);

/** Whether git reaches the repository over SSH (`ssh://…` or `user@host:path`). */
export function isSshUrl(url: string): boolean {
  return SCP_LIKE.test(url) || url.startsWith('ssh://');
}

/** An SSH private key in PEM or OpenSSH form, as `ssh-keygen` writes it. */
const PRIVATE_KEY =
  /^-----BEGIN ([A-Z]+ )?PRIVATE KEY-----\n[A-Za-z0-9+/=\n:,\- ]+\n-----END ([A-Z]+ )?PRIVATE KEY-----$/;

/**
 * A stored source credential as the SSH private key it is, the way ssh reads a key file (LF line
 * ends, a final newline); `undefined` when it is an access token instead.
 */
export function sshPrivateKey(credential: string): string | undefined {
  const key = credential.trim().replace(/\r\n/g, '\n');
  return PRIVATE_KEY.test(key) ? `${key}\n` : undefined;
}

export function isSshPrivateKey(credential: string): boolean {
  return sshPrivateKey(credential) !== undefined;
}

/** A `..` path segment, also percent-encoded, anywhere in the URL as sent (before any normalisation). */
const DOT_DOT_SEGMENT = /(^|[/\\:])(\.|%2e){2}([/\\?#]|$)/i;

/** Schemes whose user name is part of the address (`ssh://git@host`), not a credential. */
const USER_NAME_SCHEMES = new Set(['ssh:']);

const CREDENTIALS =
  'must not carry credentials (user:password@ before the host), which anyone who can read the component would see; remove them, and store the token with `rondo source-token set` (kept encrypted, sent only to this host)';

/**
 * Says what is wrong with a repository URL, or `undefined` when git may fetch it. Link-local
 * and metadata hosts are refused unless the site allows them (`allowLinkLocalRepositories`).
 */
export function checkRepoUrl(url: string, options: { allowLinkLocal?: boolean } = {}): string | undefined {
  const allowLinkLocal = options.allowLinkLocal ?? linkLocalRepositoriesAllowed();
  if (url.length === 0) return 'must not be empty';
  if (url.length > 2048) return 'must be at most 2048 characters';
  if (url.startsWith('-')) return 'must not start with "-" (git would read it as an option)';
  if (/^[A-Za-z][A-Za-z0-9+.-]*::/.test(url)) {
    return 'remote-helper transports such as ext:: and fd:: are not allowed; use https://, ssh://, git:// or file://';
  }
  if (/\s/.test(url) || hasControlCharacters(url))
    return 'must not contain spaces, newlines or control characters';
  // The URL parser resolves `..` away (file:///tmp/../etc becomes file:///etc): check the input.
  if (DOT_DOT_SEGMENT.test(url)) return 'must not contain ".." path segments';
  if (SCP_LIKE.test(url)) {
    const host = url.slice(url.indexOf('@') + 1, url.indexOf(':'));
    return allowLinkLocal ? undefined : linkLocalHostProblem(host);
  }
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return 'must be an https://, http://, ssh://, git:// or file:// URL, or user@host:path';
  }
  if (!SCHEMES.has(parsed.protocol)) {
    return `scheme '${parsed.protocol.replace(/:$/, '')}' is not allowed; use https, http, ssh, git or file`;
  }
  if (parsed.protocol !== 'file:' && parsed.hostname === '') return 'must name a host';
  if (parsed.hostname.startsWith('-')) return 'host must not start with "-"';
  if (parsed.password !== '' || (parsed.username !== '' && !USER_NAME_SCHEMES.has(parsed.protocol)))
    return CREDENTIALS;
  if (!allowLinkLocal && parsed.hostname !== '') return linkLocalHostProblem(parsed.hostname);
  return undefined;
}

/**
 * A repository URL as people may see it (API answers, webhook views, audit records): a user name
 * or password that a record from before the credential check still holds becomes `***`.
 */
export function withoutCredentials(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return url;
  }
  const userIsAddress = USER_NAME_SCHEMES.has(parsed.protocol);
  if (parsed.password === '' && (parsed.username === '' || userIsAddress)) return url;
  if (parsed.password !== '') parsed.password = '***';
  if (parsed.username !== '' && !userIsAddress) parsed.username = '***';
  return parsed.toString();
}

/** The host git connects to for a URL `checkRepoUrl` accepts (brackets of IPv6 removed); none for file://. */
export function repoUrlHost(url: string): string | undefined {
  if (SCP_LIKE.test(url)) return url.slice(url.indexOf('@') + 1, url.indexOf(':'));
  try {
    return new URL(url).hostname.replace(/^\[(.*)\]$/, '$1') || undefined;
  } catch {
    return undefined;
  }
}

/** Says what is wrong with a branch name (git's check-ref-format rules), or `undefined`. */
export function checkGitRef(ref: string): string | undefined {
  if (ref.length === 0) return 'must not be empty';
  if (ref.length > 255) return 'must be at most 255 characters';
  if (ref.startsWith('-')) return 'must not start with "-"';
  if (ref.startsWith('/') || ref.endsWith('/') || ref.endsWith('.') || ref.endsWith('.lock')) {
    return 'is not a valid branch name';
  }
  if (ref.includes('..') || ref.includes('//') || ref.includes('@{')) return 'is not a valid branch name';
  if (hasControlCharacters(ref) || /[\s~^:?*[\\]/.test(ref))
    return 'must not contain spaces, control characters or ~^:?*[\\';
  return undefined;
}

/**
 * Says what is wrong with a path that must stay inside a repository (component paths, Dockerfile
 * paths), or `undefined`. `.` means the repository root.
 */
export function checkRelativePath(p: string): string | undefined {
  if (p.length === 0) return 'must not be empty (use "." for the repository root)';
  if (p.length > 1024) return 'must be at most 1024 characters';
  if (p.startsWith('/') || /^[A-Za-z]:/.test(p))
    return 'must be relative to the repository root, not absolute';
  if (p.startsWith('-')) return 'must not start with "-"';
  if (p.includes('\\')) return 'must use "/" as the separator';
  if (hasControlCharacters(p)) return 'must not contain control characters';
  if (p.split('/').includes('..')) return 'must not contain ".." (it must stay inside the repository)';
  return undefined;
}

/** `./a//b/` → `a/b`; the repository root is `.`. Call only on paths `checkRelativePath` accepts. */
export function normalizeRelativePath(p: string): string {
  const parts = p.split('/').filter((s) => s !== '' && s !== '.');
  return parts.length ? parts.join('/') : '.';
}
