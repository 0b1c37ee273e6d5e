import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { bootstrapDebian, bootstrapStack, DEBIAN_STACKS } from '../../build/bootstrap-debian.js';
import { bootstrapStaticImage, recordBaseImages } from '../../build/bootstrap-images.js';
import { DEFAULT_BASE_IMAGES } from '../../build/presets.js';
import { loadConfig } from '../../config.js';
import { DockerImages } from '../../dataplane/docker/docker-images.js';
import { UsageError } from '../errors.js';
import { flagsOf, type ServerFlags } from './server-actions.js';

/** `rondo images bootstrap`: base images from the OS's packages, pushed to the platform registry. */
export async function bootstrapImages(
  o: ServerFlags & { stacks?: string; mirror?: string; ifMissing?: boolean },
): Promise<void> {
  const config = loadConfig(flagsOf(o));
  if (!config.platform) throw new UsageError('images need the platform; unset RONDO_PLATFORM=off');
  if (o.ifMissing) {
    const site = existsSync(join(config.dataDir, 'images.json'));
    // A site that reaches the official images (or already bootstrapped) has nothing to do.
    if (site) return void process.stderr.write('Base images are recorded in images.json; nothing to do.\n');
    const probe = new DockerImages(config.platform.dockerSocket);
    const reachable = await Promise.race([
      probe
        .ensure(DEFAULT_BASE_IMAGES.static!['2']!, () => undefined)
        .then(
          () => true,
          () => false,
        ),
      new Promise<boolean>((r) => setTimeout(() => r(false), 15_000).unref()),
    ]);
    if (reachable)
      return void process.stderr.write('The official base images are reachable; nothing to do.\n');
    process.stderr.write(
      'No configured base image is reachable: building them from Debian packages (a few minutes, once).\n',
    );
  }
  const stacks = (o.stacks ?? Object.keys(DEBIAN_STACKS).join(','))
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const s of stacks)
    if (!DEBIAN_STACKS[s])
      throw new UsageError(`--stacks: no stack '${s}' (known: ${Object.keys(DEBIAN_STACKS).join(', ')})`);
  const images = new DockerImages(config.platform.dockerSocket);
  const registry = config.platform.registry;
  const log = (line: string) => process.stderr.write(`${line}\n`);
  const file = join(config.dataDir, 'images.json');
  const staticRef = await bootstrapStaticImage(images, registry, log);
  recordBaseImages(file, { static: { '2': staticRef } });
  process.stdout.write(`static 2 → ${staticRef}\n`);
  if (stacks.length === 0) return;
  const debian = await bootstrapDebian(images, registry, o.mirror ?? 'http://deb.debian.org/debian', log);
  process.stdout.write(`debian 12 → ${debian}\n`);
  for (const stack of stacks) {
    const recorded = await bootstrapStack(images, registry, debian, stack, log);
    recordBaseImages(file, recorded);
    for (const [version, ref] of Object.entries(recorded[stack] ?? {}))
      process.stdout.write(`${stack} ${version} → ${ref}\n`);
  }
  process.stdout.write(`Recorded in ${file}.\n`);
}
