/**
 * Removes the images a run's tests built (`scripts/test-platform.sh`, after both of its streams):
 * a file's teardown removes only its own installation's builds, since the other stream may be
 * deploying one of its own at that moment.
 */
import { removeImagesLabelled } from './helpers/images.js';

await removeImagesLabelled('rondo.test-image=1', 'rondo.sandbox=image', 'rondo.build').catch(() => undefined);
