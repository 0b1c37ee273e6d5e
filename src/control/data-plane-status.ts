import type { DataPlaneRecord, DataPlaneRegistry } from '../dataplane/registry.js';
import type { DataPlaneStatus } from '../domain/resources.js';

/** How long a status check may take: an unreachable cluster answers within this, never hangs a request. */
export const STATUS_TIMEOUT_MS = 4000;
/** Beyond the driver's own deadline, the most a check waits (a driver still loading, a stuck call). */
const GRACE_MS = 1500;

/**
 * The data plane's status now (`describe dataplane`, `rondo doctor`): its driver's reading within
 * `timeoutMs`, or why there is none (no platform, no driver for its type, credentials that do not
 * open). Never throws and never waits much longer than `timeoutMs`.
 */
export async function checkDataPlane(
  dataPlanes: Pick<DataPlaneRegistry, 'drives' | 'ready'> | undefined,
  record: DataPlaneRecord,
  timeoutMs = STATUS_TIMEOUT_MS,
): Promise<DataPlaneStatus> {
  const started = Date.now();
  const done = (s: Omit<DataPlaneStatus, 'checkedAt' | 'tookMs'>): DataPlaneStatus => ({
    ...s,
    checkedAt: new Date(started).toISOString(),
    tookMs: Date.now() - started,
  });
  if (!dataPlanes)
    return done({
      reachable: false,
      reason:
        'not checked: this control plane runs without its platform (RONDO_PLATFORM=off) and drives no data plane; ask one that runs it',
    });
  if (!dataPlanes.drives(record.type))
    return done({
      reachable: false,
      reason: `not checked: this control plane has no driver for data planes of type '${record.type}'; upgrade it`,
    });
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<Omit<DataPlaneStatus, 'checkedAt' | 'tookMs'>>((resolve) => {
    timer = setTimeout(
      () => resolve({ reachable: false, reason: `no answer in ${(timeoutMs + GRACE_MS) / 1000} s` }),
      timeoutMs + GRACE_MS,
    );
  });
  const reading = (async () => {
    try {
      const driver = await dataPlanes.ready(record);
      return await driver.status(Math.max(1, timeoutMs - (Date.now() - started)));
    } catch (err) {
      return { reachable: false, reason: err instanceof Error ? err.message : String(err) };
    }
  })();
  try {
    return done(await Promise.race([reading, late]));
  } finally {
    clearTimeout(timer);
  }
}
