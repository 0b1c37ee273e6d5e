import type { Logger } from 'pino';
import type { DataPlaneDriver } from '../dataplane/driver.js';
import { LABEL } from '../dataplane/labels.js';
import type { Store } from '../store/store.js';

const keyOf = (l: Record<string, string | undefined>) =>
  `${l[LABEL.org]}/${l[LABEL.project]}/${l[LABEL.environment]}`;

/** Every (organization, project, environment) that exists, as `org/project/environment`. */
async function existingScopes(store: Store): Promise<Set<string>> {
  const rows = await store.db
    .selectFrom('projects as p')
    .innerJoin('organizations as o', 'o.id', 'p.org_id')
    .innerJoin('environments as e', 'e.org_id', 'o.id')
    .select(['o.name as org', 'p.name as project', 'e.name as environment'])
    .execute();
  return new Set(rows.map((r) => `${r.org}/${r.project}/${r.environment}`));
}

/**
 * A network outlives its (project, environment) unless someone removes it: once the project or
 * the environment is deleted, its network and its task sandbox are removed here. Deleting either
 * is refused while anything is deployed there, so nothing else is attached. The store is read
 * again just before removing, so a project created a moment ago keeps its network.
 */
export async function collectNetworks(
  store: Store,
  dp: DataPlaneDriver,
  instance: string,
  log: Logger,
): Promise<string[]> {
  const networks = await dp.environments.list(instance);
  if (networks.length === 0) return [];
  const before = await existingScopes(store);
  const gone = networks.filter((n) => !before.has(keyOf(n.labels)));
  if (gone.length === 0) return [];
  const now = await existingScopes(store);
  const removed: string[] = [];
  for (const n of gone) {
    if (now.has(keyOf(n.labels))) continue;
    try {
      await dp.environments.remove(n);
      removed.push(n.name);
    } catch (err) {
      // Something is still attached (or the engine hiccuped): the next pass tries again.
      log.debug({ network: n.name, err: err instanceof Error ? err.message : err }, 'network kept for now');
    }
  }
  if (removed.length)
    log.info({ networks: removed }, 'removed the networks of deleted projects or environments');
  return removed;
}
