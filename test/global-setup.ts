import { spawnSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BUILT_MARK_VARIABLE, removeImagesLabelled } from './helpers/images.js';

/**
 * Developers running several test runs on one engine serialize the engine runs with
 * `flock /tmp/rondo-engine.lock` (setting RONDO_ENGINE_LOCK_HELD=1 inside). A run that does not hold
 * the lock while another does must leave the images alone: removing them mid-run made the other
 * run's deployments fail with "cannot pull image rondo-test-…". CI has no lock file and removes.
 */
const ENGINE_LOCK = '/tmp/rondo-engine.lock';

function anotherRunHoldsTheEngine(): boolean {
  if (process.env.RONDO_ENGINE_LOCK_HELD === '1' || !existsSync(ENGINE_LOCK)) return false;
  return spawnSync('flock', ['-n', ENGINE_LOCK, 'true']).status === 1;
}

/**
 * Where this run's workers note that they built a test image (they inherit the variable). A run
 * that built none (one unit test file, the API tests) leaves the engine's images alone, so it
 * cannot pull them from under an engine run that started without the lock.
 */
const builtMark = join(tmpdir(), `rondo-test-built-${process.pid}`);

export function setup(): void {
  rmSync(builtMark, { force: true });
  process.env[BUILT_MARK_VARIABLE] = builtMark;
}

/** After the whole run: remove the images the tests built (labelled, so nothing else is touched). */
export async function teardown(): Promise<void> {
  const builtAny = existsSync(builtMark);
  rmSync(builtMark, { force: true });
  // RONDO_TEST_KEEP_IMAGES=1 keeps them for the next run (they are built once and reused).
  if (!builtAny || process.env.RONDO_TEST_KEEP_IMAGES === '1' || anotherRunHoldsTheEngine()) return;
  try {
    // The test images, and the task sandbox image the data plane built for the tests' runs.
    await removeImagesLabelled('rondo.test-image=1', 'rondo.sandbox=image');
  } catch {
    // no engine: nothing was built
  }
}
