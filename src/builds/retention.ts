import type { Logger } from 'pino';
import type { Store } from '../store/store.js';
import { deleteManifest } from './registry-client.js';

/**
 * Keeps the images the rules of §4 keep, and deletes the rest from the registry:
 * - only the newest image of a commit (a forced rebuild replaces the older one);
 * - the newest `keep` undeployed builds of the component; a build any deployment ever used is
 *   never collected (it may be rolled back to).
 * A collected build stays in the history with status `replaced` or `collected`.
 */
export async function collectBuilds(
  store: Store,
  componentId: string,
  keep: number,
  logger: Logger,
  /** The build that just finished, counted as succeeded (it is marked so after collection). */
  finished: string,
): Promise<void> {
  const builds = await store.db
    .selectFrom('builds')
    .select(['id', 'commit', 'config_hash', 'image', 'created_at'])
    .where('component_id', '=', componentId)
    .where((eb) => eb.or([eb('status', '=', 'succeeded'), eb('id', '=', finished)]))
    .orderBy('created_at', 'desc')
    .execute();
  const deployed = new Set(
    (
      await store.db
        .selectFrom('deployments')
        .select('image')
        .where('component_id', '=', componentId)
        .execute()
    ).map((d) => d.image),
  );
  const newestOf = new Map<string, (typeof builds)[number]>();
  const doomed: { id: string; image: string | null; status: 'replaced' | 'collected' }[] = [];
  let undeployedKept = 0;
  for (const b of builds) {
    const key = `${b.commit}/${b.config_hash}`;
    const newer = newestOf.get(key);
    if (newer) {
      // A repeatable build may produce the very same digest; never delete the image that stays.
      doomed.push({
        id: b.id,
        image: b.image === newer.image || deployed.has(b.image) ? null : b.image,
        status: 'replaced',
      });
      continue;
    }
    newestOf.set(key, b);
    if (deployed.has(b.image)) continue;
    if (undeployedKept < keep) {
      undeployedKept++;
      continue;
    }
    doomed.push({ id: b.id, image: b.image, status: 'collected' });
  }
  for (const d of doomed) {
    try {
      if (d.image) await deleteManifest(d.image);
      await store.db.updateTable('builds').set({ status: d.status }).where('id', '=', d.id).execute();
    } catch (err) {
      // Left as is; the next successful build of the component tries again.
      logger.warn(
        { build: d.id, err: err instanceof Error ? err.message : err },
        'could not collect a build image',
      );
    }
  }
}
