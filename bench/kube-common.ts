/**
 * What the Kubernetes benchmarks share: the API server's own count of the writes it received
 * (its audit log, which scripts/kube-test-cluster.sh keeps for the admin user's writes), its
 * `apiserver_request_total` by verb (every client: kubelet and controllers too), and the cluster's
 * binaries (kubectl).
 */
import { execFileSync } from 'node:child_process';
import { closeSync, existsSync, openSync, readSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';

const KUBE_ROOT = process.env.RONDO_KUBE_RUN ?? '/var/tmp/rondo-kube';
export const AUDIT_LOG = join(KUBE_ROOT, 'logs/audit.log');
const WRITE_VERBS = new Set(['create', 'update', 'patch', 'delete', 'deletecollection']);

export interface AuditEvent {
  verb: string;
  user?: { username?: string };
  userAgent?: string;
  objectRef?: { resource?: string; namespace?: string; name?: string; subresource?: string };
  responseStatus?: { code?: number };
}

/**
 * A mark in the audit log; `writes(mark)` gives the write events logged since. The log is written
 * before the API server answers (the log backend's blocking mode), so nothing is missed at the end.
 */
export class AuditWrites {
  constructor(readonly path = AUDIT_LOG) {
    if (!existsSync(path))
      throw new Error(
        `no audit log at ${path}: the test cluster was started by an older scripts/kube-test-cluster.sh; restart it (down, then up, under engine-lock)`,
      );
  }

  mark(): number {
    return statSync(this.path).size;
  }

  writes(from: number, user = 'admin'): AuditEvent[] {
    const size = statSync(this.path).size;
    // Rotated meanwhile (200 MB): the new file from its start.
    const start = size < from ? 0 : from;
    const buf = Buffer.alloc(size - start);
    const fd = openSync(this.path, 'r');
    try {
      readSync(fd, buf, 0, buf.length, start);
    } finally {
      closeSync(fd);
    }
    return buf
      .toString('utf8')
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((l) => JSON.parse(l) as AuditEvent & { stage?: string })
      .filter((e) => e.stage === 'ResponseComplete' && WRITE_VERBS.has(e.verb))
      .filter((e) => e.user?.username === user);
  }
}

/** `3 patch services, 1 delete pods`, or `none`. */
export function summarize(events: AuditEvent[]): string {
  const counts = new Map<string, number>();
  for (const e of events) {
    const what = `${e.verb} ${e.objectRef?.resource ?? '?'}${e.objectRef?.subresource ? `/${e.objectRef.subresource}` : ''}`;
    counts.set(what, (counts.get(what) ?? 0) + 1);
  }
  return counts.size === 0
    ? 'none'
    : [...counts]
        .sort((a, b) => b[1] - a[1])
        .map(([k, n]) => `${n} ${k}`)
        .join(', ');
}

/**
 * The API server's requests by verb, from its own metrics (every client), and by verb and
 * resource under `<VERB> <resource>` keys (`LIST pods`), for `readsBetween`.
 */
export async function requestTotals(kc: KubeConfig): Promise<Map<string, number>> {
  // The generated clients have no /metrics; the raw path through the same configuration.
  const server = kc.getCurrentCluster()?.server ?? '';
  const opts: import('node:https').RequestOptions = {};
  await kc.applyToHTTPSOptions(opts);
  const https = await import('node:https');
  const text = await new Promise<string>((resolve, reject) => {
    const req = https.request(`${server}/metrics`, { ...opts, method: 'GET' }, (res) => {
      let t = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (t += c));
      res.on('end', () => resolve(t));
    });
    req.on('error', reject);
    req.end();
  });
  const totals = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line.startsWith('apiserver_request_total{')) continue;
    const verb = /verb="([A-Z]+)"/.exec(line)?.[1] ?? '?';
    const resource = /resource="([^"]*)"/.exec(line)?.[1] ?? '';
    const n = Number(line.slice(line.lastIndexOf(' ') + 1));
    totals.set(verb, (totals.get(verb) ?? 0) + n);
    const byResource = `${verb} ${resource}`;
    totals.set(byResource, (totals.get(byResource) ?? 0) + n);
  }
  return totals;
}

/** Write requests (POST, PUT, PATCH, DELETE) between two readings of `requestTotals`. */
export function writesBetween(a: Map<string, number>, b: Map<string, number>): string {
  const out: string[] = [];
  for (const verb of ['POST', 'PUT', 'PATCH', 'DELETE']) {
    const n = (b.get(verb) ?? 0) - (a.get(verb) ?? 0);
    if (n > 0) out.push(`${n} ${verb}`);
  }
  return out.length ? out.join(', ') : 'none';
}

/**
 * Reads (GET and LIST) between two readings of `requestTotals`, of the resources Rondo's driver
 * reads: pods, namespaces, network policies, secrets, services, events, and LISTs of nodes. Left
 * out, as the other clients' steady traffic: leases (the kubelet's and the controllers' heartbeats),
 * single GETs of a node (the kubelet's status), and paths that are no resource (`/metrics` itself).
 * The API server does not say who asked; on the test cluster at rest these are Rondo's.
 */
export function readsBetween(a: Map<string, number>, b: Map<string, number>): number {
  let n = 0;
  for (const [k, v] of b) {
    const [verb, resource] = k.split(' ');
    if (resource === undefined || resource === '' || resource === 'leases') continue;
    if (verb !== 'LIST' && !(verb === 'GET' && resource !== 'nodes')) continue;
    n += v - (a.get(k) ?? 0);
  }
  return n;
}

/** The cluster's kubectl (the build's cache), as kube-test-cluster.sh finds it. */
export function kubectlPath(): string {
  const bin = execFileSync(join(import.meta.dirname, '../scripts/kube-build.sh'), {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'ignore'],
  }).trim();
  return join(bin, 'kubectl');
}

export const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};

export const kubeConfigOf = (text: string) => {
  const kc = new KubeConfig();
  kc.loadFromString(text);
  return kc;
};
