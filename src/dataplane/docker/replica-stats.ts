import type Docker from 'dockerode';
import type { ReplicaStats } from './engine.js';
import { isNotFound } from './engine-errors.js';

/** Engine calls in flight at once while sampling: many replicas must not swamp the engine. */
const CONCURRENCY = 4;

/**
 * Memory as `docker stats` shows it: usage without the page cache the kernel can drop at once
 * (cgroup v1 `total_inactive_file`, v2 `inactive_file`), so a replica that reads files is not
 * charged for the cache.
 */
export function workingSetBytes(m: Docker.ContainerStats['memory_stats']): number {
  const stats = (m.stats ?? {}) as Record<string, number | undefined>;
  const cache = stats.total_inactive_file ?? stats.inactive_file ?? 0;
  const usage = m.usage ?? 0;
  return cache < usage ? usage - cache : usage;
}

async function sampleOne(docker: Docker, c: Docker.ContainerInfo): Promise<ReplicaStats | undefined> {
  const container = docker.getContainer(c.Id);
  try {
    // one-shot: the engine answers at once instead of waiting a second for a second CPU reading;
    // the CPU total is a counter and Prometheus takes its rate.
    const [s, info] = await Promise.all([
      container.stats({ stream: false, 'one-shot': true }),
      container.inspect(),
    ]);
    return {
      id: c.Id,
      labels: c.Labels ?? {},
      cpuSeconds: (s.cpu_stats?.cpu_usage?.total_usage ?? 0) / 1e9,
      memoryBytes: workingSetBytes(s.memory_stats ?? {}),
      restarts: info.RestartCount ?? 0,
      oomKilled: info.State?.OOMKilled === true,
    };
  } catch (err) {
    // Removed between the listing and the sample: it is simply gone.
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

/** One reading of every running container with these labels (see `DataPlane.replicaStats`). */
export async function replicaStats(docker: Docker, labels: Record<string, string>): Promise<ReplicaStats[]> {
  const list = await docker.listContainers({
    filters: { label: Object.entries(labels).map(([k, v]) => `${k}=${v}`), status: ['running'] },
  });
  const out: ReplicaStats[] = [];
  for (let i = 0; i < list.length; i += CONCURRENCY) {
    const batch = await Promise.all(list.slice(i, i + CONCURRENCY).map((c) => sampleOne(docker, c)));
    for (const s of batch) if (s) out.push(s);
  }
  return out;
}
