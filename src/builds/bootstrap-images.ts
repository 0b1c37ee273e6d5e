import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Readable } from 'node:stream';
import { pack } from 'tar-stream';
import type { DockerImages } from '../dataplane/docker/docker-images.js';
import type { BaseImages } from './presets.js';

/**
 * `rondo images bootstrap`: builds the base images a site needs from the OS's own packages when
 * no registry with official images is reachable, pushes them to the platform registry, and
 * records them in `images.json`. This is the `static` stack: Debian's caddy (with the shared
 * libraries it links) serves static sites and SPAs, and busybox-static gives builds a shell.
 */
export async function bootstrapStaticImage(
  images: DockerImages,
  registry: string,
  log: (line: string) => void,
): Promise<string> {
  const tag = await buildStaticImage(images, registry, log);
  return `${registry}/rondo/static@${await images.push(tag)}`;
}

/** Builds the `static` stack's image (not pushed); returns its tag. */
export async function buildStaticImage(
  images: DockerImages,
  registry: string,
  log: (line: string) => void,
  labels: Record<string, string> = {},
): Promise<string> {
  const busybox = staticBusybox();
  const caddy = '/usr/bin/caddy';
  if (!existsSync(caddy))
    throw new Error('caddy is not installed; install Debian’s caddy (apt-get install caddy)');
  const libraries = sharedLibraries(caddy);
  const dockerfile = [
    'FROM scratch',
    'COPY busybox /bin/busybox',
    'RUN ["/bin/busybox", "--install", "-s", "/bin"]',
    'RUN ["/bin/busybox", "mkdir", "-p", "/etc", "/www", "/tmp", "/usr/bin"]',
    'RUN ["/bin/busybox", "chmod", "1777", "/tmp"]',
    'COPY rootfs/ /',
    'ENV PATH=/usr/bin:/bin',
  ].join('\n');
  const tar = pack();
  tar.entry({ name: 'Dockerfile' }, dockerfile);
  tar.entry({ name: 'busybox', mode: 0o755 }, readFileSync(busybox));
  for (const file of [caddy, ...libraries])
    tar.entry({ name: `rootfs${file}`, mode: 0o755 }, readFileSync(realpathSync(file)));
  tar.finalize();
  const tag = `${registry}/rondo/static:2`;
  await images.build(
    {
      context: tar as unknown as Readable,
      dockerfile: 'Dockerfile',
      tag,
      labels: { 'rondo.base-image': 'static', ...labels },
    },
    log,
  );
  return tag;
}

/** The shared libraries (and the loader) an executable links, as ldd resolves them on this host. */
export function sharedLibraries(executable: string): string[] {
  let out: string;
  try {
    out = execFileSync('ldd', [executable], { encoding: 'utf8' });
  } catch {
    return []; // a static executable: ldd refuses it
  }
  const paths = new Set<string>();
  for (const line of out.split('\n')) {
    const m = /=>\s+(\/\S+)/.exec(line) ?? /^\s*(\/\S+)\s+\(/.exec(line);
    if (m?.[1]) paths.add(m[1]);
  }
  return [...paths];
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
  mkdirSync(dirname(file), { recursive: true });
  const current = existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as BaseImages) : {};
  for (const [stack, versions] of Object.entries(images)) current[stack] = { ...current[stack], ...versions };
  writeFileSync(file, `${JSON.stringify(current, null, 2)}\n`);
}
