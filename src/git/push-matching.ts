import type { PushEvent } from './webhook-events.js';

/**
 * Which components a push concerns (§9, F6): same repository, the branch they track (tags only
 * when asked), and a changed file under their directory or one of their extra watch paths.
 */

/**
 * A repository URL reduced to `host/path` so https, ssh and web URLs of one repository compare
 * equal: `https://github.com/Acme/Shop.git`, `git@github.com:Acme/Shop.git` and
 * `https://github.com/Acme/Shop` are all `github.com/Acme/Shop`. `file://` URLs keep their path.
 */
export function repositoryKey(url: string): string {
  let u = url.trim();
  const scp = /^([^@/\s]+@)?([^:/\s]+):(?!\/)(.+)$/.exec(u);
  if (scp && !/^[a-z][a-z0-9+.-]*:\/\//i.test(u)) u = `ssh://${scp[2]}/${scp[3]}`;
  try {
    const parsed = new URL(u);
    const path = parsed.pathname.replace(/\/+$/, '').replace(/\.git$/, '');
    if (parsed.protocol === 'file:') return `file:${path}`;
    return `${parsed.hostname.toLowerCase()}${path}`;
  } catch {
    return u.replace(/\/+$/, '').replace(/\.git$/, '');
  }
}

export interface WatchedComponent {
  repoUrl: string;
  branch: string;
  /** The component's directory in the repository ('' or '.' for the root). */
  path: string;
  watchPaths: string[];
  buildTags: boolean;
}

export type Match = { matches: true } | { matches: false; why: string };

/** Whether `push` concerns `c`; `changedFiles` comes from the payload or from Git. */
export function matchPush(push: PushEvent, changedFiles: string[], c: WatchedComponent): Match {
  const repo = repositoryKey(c.repoUrl);
  if (!push.repositoryUrls.some((u) => repositoryKey(u) === repo))
    return { matches: false, why: 'another repository' };
  if (push.after === null) return { matches: false, why: `${push.ref} was deleted` };
  if (push.ref.startsWith('refs/tags/')) {
    if (!c.buildTags) return { matches: false, why: 'a tag, and the component does not build tags' };
    return { matches: true };
  }
  if (push.ref !== `refs/heads/${c.branch}`)
    return { matches: false, why: `branch ${push.ref.slice('refs/heads/'.length)}, not ${c.branch}` };
  const dir = c.path.replace(/^\.?\/*/, '').replace(/\/+$/, '');
  const watched = [dir, ...c.watchPaths.map((p) => p.replace(/^\.?\/*/, '').replace(/\/+$/, ''))];
  const touches = (file: string) => watched.some((w) => w === '' || file === w || file.startsWith(`${w}/`));
  if (!changedFiles.some(touches))
    return { matches: false, why: `no changed file under ${watched.map((w) => w || '/').join(', ')}` };
  return { matches: true };
}
