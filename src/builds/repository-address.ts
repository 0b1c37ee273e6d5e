import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { linkLocalHostProblem, linkLocalRepositoriesAllowed } from '../domain/repository-host.js';
import { repoUrlHost } from '../domain/source.js';

/**
 * Why git must not connect to the repository's host: a name that resolves to a link-local or
 * metadata address (`169.254.169.254.nip.io`, a cloud's internal names) is refused like the
 * address itself, unless the site allows them. `undefined` also when the name does not resolve:
 * git then says so itself.
 */
export async function resolvedHostProblem(repoUrl: string): Promise<string | undefined> {
  if (linkLocalRepositoriesAllowed()) return undefined;
  const host = repoUrlHost(repoUrl);
  // Literal addresses were checked with the URL.
  if (!host || isIP(host)) return undefined;
  let addresses: { address: string }[];
  try {
    addresses = await lookup(host, { all: true });
  } catch {
    return undefined;
  }
  const bad = addresses.find((a) => linkLocalHostProblem(a.address));
  return bad
    ? `host '${host}' resolves to ${bad.address}, a link-local or cloud metadata address, which a repository host may not be on this site (an administrator can allow them with RONDO_ALLOW_LINK_LOCAL_REPOSITORIES=true)`
    : undefined;
}
