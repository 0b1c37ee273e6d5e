import { createHash } from 'node:crypto';

/**
 * Kubernetes' names and label values, made from Rondo's: object names are DNS labels (lowercase
 * letters, digits and `-`, at most 63); label values are at most 63 of letters, digits, `-`, `_`
 * and `.`, starting and ending alphanumeric. A value that does not fit is cut and given a hash of
 * the whole, so two different inputs never share one name.
 */
const hash = (s: string) => createHash('sha256').update(s).digest('hex').slice(0, 8);

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

/** A DNS label (RFC 1123) of at most `max` characters for `raw`. */
export function dnsLabel(raw: string, max = 63): string {
  if (raw.length <= max && DNS_LABEL.test(raw)) return raw;
  const clean =
    raw
      .toLowerCase()
      .replace(/[^a-z0-9-]+/g, '-')
      .replace(/^-+|-+$/g, '') || 'x';
  const suffix = `-${hash(raw)}`;
  return `${clean.slice(0, max - suffix.length).replace(/-+$/, '')}${suffix}`;
}

/** A valid label value for `raw`; valid ones are kept as they are. */
export function labelValue(raw: string): string {
  if (raw.length <= 63 && LABEL_VALUE.test(raw)) return raw;
  const clean = raw.replace(/[^-A-Za-z0-9_.]+/g, '-').replace(/^[^A-Za-z0-9]+|[^A-Za-z0-9]+$/g, '');
  const suffix = hash(raw);
  const head = clean.slice(0, 63 - suffix.length - 1).replace(/[^A-Za-z0-9]+$/, '');
  return head ? `${head}-${suffix}` : suffix;
}

/** The labels as Kubernetes can hold them (values made valid). */
export const labelValues = (labels: Record<string, string>): Record<string, string> =>
  Object.fromEntries(Object.entries(labels).map(([k, v]) => [k, labelValue(v)]));

/**
 * On the objects of Rondo's gateway inside a cluster (its namespace, DaemonSet and pods), which
 * carry the installation's labels too: environments and replicas are listed without them, so the
 * reconciler never takes the gateway for a stray environment or replica and removes it.
 */
export const GATEWAY_LABEL = 'rondo.gateway';

/** A label selector matching all of `labels`. */
export const selector = (labels: Record<string, string>): string =>
  Object.entries(labels)
    .map(([k, v]) => `${k}=${labelValue(v)}`)
    .join(',');

/**
 * The annotation holding a workload's `rondo.*` labels exactly as the control plane gave them,
 * so a value Kubernetes could not hold comes back unchanged.
 */
export const LABELS_ANNOTATION = 'rondo.labels';

/** A replica's id is `<namespace>/<pod>`: every pod call needs both, and it costs no lookup. */
export function podId(namespace: string, name: string): string {
  return `${namespace}/${name}`;
}

export function parsePodId(id: string): { namespace: string; name: string } {
  const [namespace, name, ...rest] = id.split('/');
  if (!namespace || !name || rest.length > 0)
    throw new Error(`'${id}' is not a Kubernetes replica id (<namespace>/<pod>)`);
  return { namespace, name };
}

/** A label selector matching all of `labels`, and not the gateway's objects (`GATEWAY_LABEL`). */
export const workloadSelector = (labels: Record<string, string>): string =>
  [selector(labels), `!${GATEWAY_LABEL}`].filter(Boolean).join(',');
