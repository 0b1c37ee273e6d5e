import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { DEBIAN_STACKS } from '../../builds/bootstrap-debian.js';
import { recordBaseImages } from '../../builds/bootstrap-images.js';
import { bootstrapBaseImages } from '../../builds/bootstrap-run.js';
import { BuildKitCli } from '../../builds/buildkit-cli.js';
import { DEFAULT_BASE_IMAGES } from '../../builds/presets.js';
import { loadConfig } from '../../config.js';
import { DockerImages } from '../../dataplane/docker/docker-images.js';
import { UsageError } from '../errors.js';
import { LiveLines } from './live-lines.js';
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
    if (!Object.hasOwn(DEBIAN_STACKS, s))
      throw new UsageError(`--stacks: no stack '${s}' (known: ${Object.keys(DEBIAN_STACKS).join(', ')})`);
  const images = new DockerImages(config.platform.dockerSocket);
  const buildkit = new BuildKitCli(config.platform.builds.dockerCli, config.platform.dockerSocket);
  if (stacks.length && !buildkit.available())
    throw new UsageError(
      `the stacks are built with BuildKit, and the docker CLI ${config.platform.builds.dockerCli} is missing; install docker.io or set RONDO_DOCKER_CLI`,
    );
  const file = join(config.dataDir, 'images.json');
  const started = Date.now();
  // Lasting lines on stderr (a log file gets each once); live lines only on a terminal.
  const screen = new LiveLines(process.stderr);
  // On one terminal, stdout's lines go above the live lines too, or they would be drawn over.
  const say = (text: string) =>
    process.stdout.isTTY && screen.tty ? screen.line(text) : process.stdout.write(`${text}\n`);
  try {
    await bootstrapBaseImages(
      { images, buildkit },
      { registry: config.platform.registry, mirror: o.mirror ?? 'http://deb.debian.org/debian', stacks },
      {
        line: (text) => screen.line(text),
        live: (key, text) => screen.set(key, text),
        built: (recorded) => {
          recordBaseImages(file, recorded);
          for (const [stack, versions] of Object.entries(recorded))
            for (const [version, ref] of Object.entries(versions)) say(`${stack} ${version} → ${ref}`);
        },
      },
    );
  } finally {
    screen.done();
  }
  process.stdout.write(`Recorded in ${file} (${((Date.now() - started) / 1000).toFixed(0)} s).\n`);
}
