/**
 * Repository hosts a control plane must not fetch from by default: link-local addresses
 * (169.254.0.0/16, fe80::/10) and cloud metadata services. A repository URL pointing there
 * would make the build's `git` read the instance's credentials from the metadata service and
 * show them in the build log. Sites whose Git server really is link-local allow them with
 * RONDO_ALLOW_LINK_LOCAL_REPOSITORIES=true (docs/decisions.md).
 */

/** Names of metadata services (GCP, AWS): resolved by the cloud's own DNS to a link-local address. */
const METADATA_NAMES = new Set([
  'metadata',
  'metadata.google.internal',
  'metadata.goog',
  'instance-data',
  'instance-data.ec2.internal',
]);

/** Metadata addresses that are not link-local: Alibaba Cloud's IPv4, AWS's IPv6. */
const METADATA_IPV4 = new Set([0x646464c8]); // 100.100.100.200
const METADATA_IPV6 = 'fd00:ec2:0:0:0:0:0:254';

/**
 * An IPv4 address as `inet_aton` (and so git's resolver) reads it: one to four parts, each
 * decimal, octal (leading 0) or hex (0x): `2852039166`, `0xa9.0376.43518`, `169.254.169.254`.
 */
export function parseIPv4(host: string): number | undefined {
  const parts = host.split('.');
  if (parts.length > 4 || parts.some((p) => p === '')) return undefined;
  const values: number[] = [];
  for (const p of parts) {
    const m = /^(?:0x([0-9a-f]*)|(0[0-7]*)|([1-9][0-9]*))$/i.exec(p);
    if (!m) return undefined;
    const v =
      m[1] !== undefined ? Number.parseInt(m[1] || '0', 16) : Number.parseInt(m[2] ?? m[3]!, m[2] ? 8 : 10);
    values.push(v);
  }
  const last = values.pop()!;
  if (values.some((v) => v > 255) || last >= 2 ** (8 * (4 - values.length))) return undefined;
  return values.reduce((acc, v, i) => acc + v * 2 ** (8 * (3 - i)), 0) + last;
}

/** An IPv6 address as eight 16-bit groups, or `undefined` when `host` is not one. */
export function parseIPv6(host: string): number[] | undefined {
  let text = host;
  const groups: number[] = [];
  const v4 = /^(.*:)(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4) {
    const n = parseIPv4(v4[2]!);
    if (n === undefined || v4[2]!.split('.').length !== 4) return undefined;
    text = `${v4[1]}${(n >>> 16).toString(16)}:${(n & 0xffff).toString(16)}`;
  }
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const side = (s: string) => (s === '' ? [] : s.split(':'));
  const head = side(halves[0]!);
  const tail = halves.length === 2 ? side(halves[1]!) : [];
  const missing = 8 - head.length - tail.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return undefined;
  for (const g of [...head, ...Array(halves.length === 2 ? missing : 0).fill('0'), ...tail]) {
    if (!/^[0-9a-f]{1,4}$/i.test(g)) return undefined;
    groups.push(Number.parseInt(g, 16));
  }
  return groups;
}

function isLinkLocalIPv4(n: number): boolean {
  return n >>> 16 === 0xa9fe || METADATA_IPV4.has(n);
}

/**
 * Why `host` (a URL's host, brackets and a final dot allowed) is a link-local or metadata
 * address, or `undefined` when it is not one.
 */
export function linkLocalHostProblem(host: string): string | undefined {
  let name = host
    .toLowerCase()
    .replace(/^\[(.*)\]$/, '$1')
    .replace(/\.$/, '');
  try {
    // Hosts of ssh:// and git:// URLs stay percent-encoded in a parsed URL; git decodes them.
    name = decodeURIComponent(name).replace(/\.$/, '');
  } catch {
    // not percent-encoded: as it is
  }
  const refused = `'${name}' is a link-local or cloud metadata address, which a repository host may not be on this site (an administrator can allow them with RONDO_ALLOW_LINK_LOCAL_REPOSITORIES=true)`;
  if (METADATA_NAMES.has(name)) return refused;
  const v4 = parseIPv4(name);
  if (v4 !== undefined) return isLinkLocalIPv4(v4) ? refused : undefined;
  const v6 = parseIPv6(name.replace(/%.*$/, ''));
  if (!v6) return undefined;
  if ((v6[0]! & 0xffc0) === 0xfe80) return refused;
  if (v6.map((g) => g.toString(16)).join(':') === METADATA_IPV6) return refused;
  // IPv4-mapped (::ffff:a.b.c.d) and IPv4-compatible (::a.b.c.d) forms reach the IPv4 address.
  if (v6.slice(0, 5).every((g) => g === 0) && (v6[5] === 0xffff || v6[5] === 0)) {
    const embedded = v6[6]! * 0x10000 + v6[7]!;
    if (isLinkLocalIPv4(embedded)) return refused;
  }
  return undefined;
}

let linkLocalAllowed = false;

/**
 * The site's setting (RONDO_ALLOW_LINK_LOCAL_REPOSITORIES), set once by the composition root:
 * every check of a repository URL, at creation and before each fetch, follows it.
 */
export function allowLinkLocalRepositories(allowed: boolean): void {
  linkLocalAllowed = allowed;
}

export function linkLocalRepositoriesAllowed(): boolean {
  return linkLocalAllowed;
}
