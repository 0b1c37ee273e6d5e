import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import type { Readable } from 'node:stream';
import { pack } from 'tar-stream';
import type { DockerImages } from '../dataplane/docker/docker-images.js';
import type { BaseImages } from './presets.js';

/**
 * `rondo images bootstrap`: builds the base images a site needs from the OS's own packages when
 * no registry with official images is reachable, pushes them to the platform registry, and
 * records them in `images.json`. Today: the `static` stack (Debian's busybox-static, whose httpd
 * serves static sites and SPAs). The Debian-based language stacks (debootstrap, then apt) are
 * the next part of F3.
 */
export async function bootstrapStaticImage(
  images: DockerImages,
  registry: string,
  log: (line: string) => void,
): Promise<string> {
  const busybox = staticBusybox();
  const dockerfile = [
    'FROM scratch',
    'COPY busybox /bin/busybox',
    'RUN ["/bin/busybox", "--install", "-s", "/bin"]',
    'RUN ["/bin/busybox", "mkdir", "-p", "/etc", "/www", "/tmp"]',
    'ENV PATH=/bin',
  ].join('\n');
  const tar = pack();
  tar.entry({ name: 'Dockerfile' }, dockerfile);
  tar.entry({ name: 'busybox', mode: 0o755 }, readFileSync(busybox));
  tar.finalize();
  const tag = `${registry}/rondo/static:1`;
  await images.build(
    {
      context: tar as unknown as Readable,
      dockerfile: 'Dockerfile',
      tag,
      labels: { 'rondo.base-image': 'static' },
    },
    log,
  );
  const digest = await images.push(tag, log);
  return `${registry}/rondo/static@${digest}`;
}

function staticBusybox(): string {
  const path = ['/bin/busybox', '/usr/bin/busybox'].find(existsSync);
  if (!path)
    throw new Error(
      'busybox is not installed; install Debian’s busybox-static (apt-get install busybox-static)',
    );
  // ldd refuses static executables; a dynamic busybox would not run in an image without libc.
  let dynamic = true;
  try {
    execFileSync('ldd', [path], { stdio: 'ignore' });
  } catch {
    dynamic = false;
  }
  if (dynamic) throw new Error(`${path} is not the static build; install busybox-static`);
  return path;
}

/** Records bootstrapped images in the site's images.json, keeping what is there. */
export function recordBaseImages(file: string, images: BaseImages): void {
  const current = existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as BaseImages) : {};
  for (const [stack, versions] of Object.entries(images)) current[stack] = { ...current[stack], ...versions };
  writeFileSync(file, `${JSON.stringify(current, null, 2)}\n`);
}
