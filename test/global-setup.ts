import { removeImagesLabelled } from './helpers/images.js';

/** After the whole run: remove the images the tests built (labelled, so nothing else is touched). */
export async function teardown(): Promise<void> {
  try {
    // The test images, and the task sandbox image the data plane built for the tests' runs.
    await removeImagesLabelled('rondo.test-image=1', 'rondo.sandbox=image');
  } catch {
    // no engine: nothing was built
  }
}
