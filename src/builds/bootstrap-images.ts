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
 * records them in `images.json`. This is the `static` stack (and the gateway's image below): Debian's caddy (with the shared
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
  const caddy = '/usr/bin/caddy';
  if (!existsSync(caddy))
    throw new Error('caddy is not installed; install Debian’s caddy (apt-get install caddy)');
  return buildBusyboxImage(images, {
    tag: `${registry}/rondo/static:2`,
    baseImage: 'static',
    files: [caddy, ...sharedLibraries(caddy)],
    dirs: ['/etc', '/www', '/tmp', '/usr/bin'],
    path: '/usr/bin:/bin',
    log,
    labels,
  });
}

/**
 * The gateway's image, which clusters run as Rondo's gateway inside them (G6): Debian's HAProxy,
 * the shared libraries it links and busybox (the shell, `wget`, `tar` and `head` its
 * configuration pushes use). Pushed by `rondo images bootstrap` as `<registry>/rondo/gateway`.
 */
export function buildGatewayImage(
  images: DockerImages,
  registry: string,
  log: (line: string) => void,
  labels: Record<string, string> = {},
): Promise<string> {
  return buildBusyboxImage(images, {
    tag: `${registry}/rondo/gateway:1`,
    baseImage: 'gateway',
    files: gatewayImageFiles(),
    dirs: ['/etc', '/tmp', '/run'],
    path: '/usr/sbin:/bin',
    log,
    labels,
  });
}

/** The host's files the gateway image holds besides busybox: `haproxy` and what it links. */
export function gatewayImageFiles(): string[] {
  const haproxy = '/usr/sbin/haproxy';
  if (!existsSync(haproxy))
    throw new Error('haproxy is not installed; install Debian’s haproxy (apt-get install haproxy)');
  return [haproxy, ...sharedLibraries(haproxy)];
}

/** An image of busybox-static (its applets in /bin) and host files at their own paths. */
async function buildBusyboxImage(
  images: DockerImages,
  o: {
    tag: string;
    baseImage: string;
    files: string[];
    dirs: string[];
    path: string;
    log: (line: string) => void;
    labels?: Record<string, string>;
  },
): Promise<string> {
  const busybox = staticBusybox();
  const dockerfile = [
    'FROM scratch',
    'COPY busybox /bin/busybox',
    'RUN ["/bin/busybox", "--install", "-s", "/bin"]',
    `RUN ["/bin/busybox", "mkdir", "-p", ${o.dirs.map((d) => JSON.stringify(d)).join(', ')}]`,
    'RUN ["/bin/busybox", "chmod", "1777", "/tmp"]',
    'COPY rootfs/ /',
    `ENV PATH=${o.path}`,
  ].join('\n');
  const tar = pack();
  tar.entry({ name: 'Dockerfile' }, dockerfile);
  tar.entry({ name: 'busybox', mode: 0o755 }, readFileSync(busybox));
  for (const file of o.files)
    tar.entry({ name: `rootfs${file}`, mode: 0o755 }, readFileSync(realpathSync(file)));
  tar.finalize();
  await images.build(
    {
      context: tar as unknown as Readable,
      dockerfile: 'Dockerfile',
      tag: o.tag,
      labels: { 'rondo.base-image': o.baseImage, ...o.labels },
    },
    o.log,
  );
  return o.tag;
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

export function staticBusybox(): string {
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
