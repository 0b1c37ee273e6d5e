import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pack } from 'tar-stream';
import type { DockerImages } from '../dataplane/docker/docker-images.js';
import type { BaseImages } from './presets.js';

/**
 * The Debian-based stacks for sites without a registry of official images (§4): debootstrap a
 * minimal Debian 12 root filesystem, import it as `rondo/debian:12`, then install each stack's
 * toolchain from Debian's own packages. Versions are Debian 12's: node 18, python 3.11,
 * go 1.19, php 8.2, ruby 3.1.
 */
export const DEBIAN_STACKS: Record<string, { version: string; packages: string[] }> = {
  node: { version: '18', packages: ['nodejs', 'npm'] },
  python: { version: '3.11', packages: ['python3', 'python3-pip'] },
  go: { version: '1.19', packages: ['golang-go'] },
  php: { version: '8.2', packages: ['php-cli'] },
  ruby: { version: '3.1', packages: ['ruby', 'ruby-bundler'] },
};

function run(cmd: string, args: string[], _log: (line: string) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let tail = '';
    const on = (c: Buffer) => {
      tail = (tail + c.toString()).slice(-400);
    };
    child.stdout.on('data', on);
    child.stderr.on('data', on);
    child.on('close', (code) =>
      code === 0 ? resolve() : reject(new Error(`${cmd} failed (${code}): ${tail.trim().split('\n').pop()}`)),
    );
  });
}

/** debootstrap → docker import → push; returns `<registry>/rondo/debian@sha256:…`. */
export async function bootstrapDebian(
  images: DockerImages,
  registry: string,
  mirror: string,
  log: (line: string) => void,
): Promise<string> {
  if (!existsSync('/usr/sbin/debootstrap'))
    throw new Error('debootstrap is not installed (apt-get install debootstrap)');
  const root = mkdtempSync(join(tmpdir(), 'rondo-debootstrap-'));
  try {
    log(`debootstrap bookworm from ${mirror}`);
    await run('debootstrap', ['--variant=minbase', 'bookworm', root, mirror], log);
    const tar = spawn('tar', ['-C', root, '-c', '.'], { stdio: ['ignore', 'pipe', 'ignore'] });
    const tag = `${registry}/rondo/debian:12`;
    await images.importRootfs(tar.stdout, tag, log, { 'rondo.base-image': 'debian' });
    const digest = await images.push(tag, log);
    return `${registry}/rondo/debian@${digest}`;
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

/** One stack image on top of the Debian base; returns its pinned reference. */
export async function bootstrapStack(
  images: DockerImages,
  registry: string,
  debian: string,
  stack: string,
  log: (line: string) => void,
): Promise<BaseImages> {
  const s = DEBIAN_STACKS[stack];
  if (!s) throw new Error(`no Debian stack '${stack}' (known: ${Object.keys(DEBIAN_STACKS).join(', ')})`);
  const dockerfile = [
    `FROM ${debian}`,
    `RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${[...s.packages, 'ca-certificates'].join(' ')} && rm -rf /var/lib/apt/lists/*`,
  ].join('\n');
  const tar = pack();
  tar.entry({ name: 'Dockerfile' }, dockerfile);
  tar.finalize();
  const tag = `${registry}/rondo/${stack}:${s.version}`;
  await images.build(
    {
      context: tar as unknown as Readable,
      dockerfile: 'Dockerfile',
      tag,
      labels: { 'rondo.base-image': stack },
    },
    log,
  );
  const digest = await images.push(tag, log);
  const recorded: BaseImages = { [stack]: { [s.version]: `${registry}/rondo/${stack}@${digest}` } };
  // Go's runtime stage is distroless by default; here the Debian base runs the static binary.
  if (stack === 'go') recorded.distroless = { '1': debian };
  return recorded;
}
