import type { DataPlaneStatus } from '../../domain/resources.js';

const GiB = 2 ** 30;

/** `4 CPUs, 15.6 GiB memory (1 node)`. */
export function capacityText(c: NonNullable<DataPlaneStatus['capacity']>): string {
  const cpus = Number.isInteger(c.cpus) ? String(c.cpus) : c.cpus.toFixed(2);
  const nodes = c.nodes === undefined ? '' : ` (${c.nodes} node${c.nodes === 1 ? '' : 's'})`;
  return `${cpus} CPU${c.cpus === 1 ? '' : 's'}, ${(c.memoryBytes / GiB).toFixed(1)} GiB memory${nodes}`;
}

/** One line: `reachable: Kubernetes v1.20.2, 2 CPUs, 3.8 GiB memory (1 node)`, or `unreachable`. */
export function statusSummary(s: DataPlaneStatus): string {
  if (!s.reachable) return 'unreachable';
  return ['reachable', s.version, s.capacity ? capacityText(s.capacity) : undefined]
    .filter(Boolean)
    .join(', ');
}

/** `describe dataplane`'s status fields. */
export function statusFields(s: DataPlaneStatus | undefined): [string, string][] {
  if (!s) return [];
  return [
    ['Status', `${s.reachable ? 'reachable' : 'unreachable'} (checked in ${s.tookMs} ms)`],
    ...(s.version ? ([['Version', s.version]] as [string, string][]) : []),
    ...(s.capacity ? ([['Capacity', capacityText(s.capacity)]] as [string, string][]) : []),
    ...(s.reason ? ([['Reason', s.reason]] as [string, string][]) : []),
  ];
}
