/**
 * The base-image bootstrap as it was before G1 (commit 7596671), kept for the bootstrap bench only:
 * static, then debootstrap → import → push, then each stack in turn with the classic builder
 * (`apt-get update` and install per stack), each pushed before the next starts. Every image also
 * carries `labels`, so the bench removes exactly what it built.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pack } from 'tar-stream';
import { DEBIAN_STACKS } from '../src/builds/bootstrap-debian.js';
import { sharedLibraries } from '../src/builds/bootstrap-images.js';
import type { DockerImages } from '../src/dataplane/docker/docker-images.js';

const quiet = () => undefined;

function run(cmd: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: 'ignore' });
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`${cmd} failed (${code})`))));
  });
}

async function staticImage(images: DockerImages, registry: string, labels: Record<string, string>) {
  const caddy = '/usr/bin/caddy';
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
  tar.entry({ name: 'busybox', mode: 0o755 }, readFileSync('/bin/busybox'));
  for (const file of [caddy, ...sharedLibraries(caddy)])
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
    quiet,
  );
  return `${registry}/rondo/static@${await images.push(tag)}`;
}

async function debian(
  images: DockerImages,
  registry: string,
  mirror: string,
  labels: Record<string, string>,
) {
  const root = mkdtempSync(join(tmpdir(), 'rondo-debootstrap-'));
  try {
    await run('debootstrap', ['--variant=minbase', 'bookworm', root, mirror]);
    const tar = spawn('tar', ['-C', root, '-c', '.'], { stdio: ['ignore', 'pipe', 'ignore'] });
    const tag = `${registry}/rondo/debian:12`;
    await images.importRootfs(tar.stdout, tag, quiet, { 'rondo.base-image': 'debian', ...labels });
    return `${registry}/rondo/debian@${await images.push(tag)}`;
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

async function stack(
  images: DockerImages,
  registry: string,
  base: string,
  name: string,
  labels: Record<string, string>,
) {
  const s = DEBIAN_STACKS[name]!;
  const dockerfile = [
    `FROM ${base}`,
    `RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${[...s.packages, 'ca-certificates'].join(' ')} && rm -rf /var/lib/apt/lists/*`,
  ].join('\n');
  const tar = pack();
  tar.entry({ name: 'Dockerfile' }, dockerfile);
  tar.finalize();
  const tag = `${registry}/rondo/${name}:${s.version}`;
  await images.build(
    {
      context: tar as unknown as Readable,
      dockerfile: 'Dockerfile',
      tag,
      labels: { 'rondo.base-image': name, ...labels },
    },
    quiet,
  );
  return `${registry}/rondo/${name}@${await images.push(tag)}`;
}

/** The old sequence; calls `done(name, ms)` as each image is pushed. */
export async function bootstrapSequentially(
  images: DockerImages,
  registry: string,
  mirror: string,
  stacks: string[],
  labels: Record<string, string>,
  done: (name: string, ms: number) => void,
): Promise<void> {
  let t = performance.now();
  const lap = (name: string) => {
    done(name, performance.now() - t);
    t = performance.now();
  };
  await staticImage(images, registry, labels);
  lap('static');
  const base = await debian(images, registry, mirror, labels);
  lap('debian');
  for (const name of stacks) {
    await stack(images, registry, base, name, labels);
    lap(name);
  }
}
