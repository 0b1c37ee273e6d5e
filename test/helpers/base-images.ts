import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEBIAN_STACKS } from '../../src/builds/bootstrap-debian.js';
import { bootstrapBaseImages } from '../../src/builds/bootstrap-run.js';
import { BuildKitCli } from '../../src/builds/buildkit-cli.js';
import type { BaseImages } from '../../src/builds/presets.js';
import { DockerImages } from '../../src/dataplane/docker/docker-images.js';
import { startRegistry } from './platform.js';

/** Where the machine keeps bootstrapped base images between test runs (a registry's storage). */
const CACHE = process.env.RONDO_TEST_BASE_IMAGES_DIR ?? '/var/tmp/rondo-test-base-images';
/** Stands for the cache registry's address in the recorded references; its port changes per run. */
const HOST = 'REGISTRY';

export interface CachedBaseImages {
  baseImages: BaseImages;
  stop: () => void;
}

/**
 * The Debian-based stacks (and `static`), bootstrapped from Debian's packages the first time and
 * kept in a registry directory under /var/tmp, so later runs only pull them (or find them in the
 * engine already). References are by digest, so what a run builds on is what was recorded.
 */
export async function cachedBaseImages(stacks: string[]): Promise<CachedBaseImages> {
  mkdirSync(CACHE, { recursive: true });
  const registry = await startRegistry(CACHE);
  const file = join(CACHE, 'images.json');
  const recorded: BaseImages = existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) : {};
  const local = (ref: string) => ref.replace(`${HOST}/`, `${registry.addr}/`);
  const portable = (images: BaseImages) =>
    JSON.parse(JSON.stringify(images).replaceAll(`${registry.addr}/`, `${HOST}/`)) as BaseImages;
  const images = new DockerImages();
  const docker = process.env.RONDO_DOCKER_SOCKET || '/var/run/docker.sock';
  // A stack counts as cached only at the version bootstrap makes now (node moved from 18 to 22).
  const missing = stacks.filter((s) => {
    const version = Object.hasOwn(DEBIAN_STACKS, s) ? DEBIAN_STACKS[s]!.version : undefined;
    return version ? !recorded[s]?.[version] : !recorded[s];
  });
  try {
    // The bootstrap `rondo images bootstrap` runs (one Debian root, the stacks built at once), so
    // a run that starts cold tests it too; its lines go to the test's output.
    if (missing.length > 0)
      await bootstrapBaseImages(
        { images, buildkit: new BuildKitCli(process.env.RONDO_DOCKER_CLI || '/usr/bin/docker', docker) },
        {
          registry: registry.addr,
          mirror: 'http://deb.debian.org/debian',
          stacks: missing.filter((s) => s !== 'static'),
        },
        {
          line: (text) => process.stderr.write(`base images: ${text}\n`),
          live: () => {},
          built: (made) => {
            Object.assign(recorded, portable(made));
            writeFileSync(file, JSON.stringify(recorded, null, 2));
          },
        },
      );
  } catch (err) {
    registry.stop();
    throw err;
  }
  const baseImages: BaseImages = {};
  for (const [stack, versions] of Object.entries(recorded))
    baseImages[stack] = Object.fromEntries(Object.entries(versions).map(([v, ref]) => [v, local(ref)]));
  return { baseImages, stop: registry.stop };
}
