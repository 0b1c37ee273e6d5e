import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DockerImages } from '../dataplane/docker/docker-images.js';
import { BuildKitCli } from './buildkit-cli.js';
import type { BaseImages } from './presets.js';

/**
 * The Debian-based stacks for sites without a registry of official images (§4): debootstrap a
 * minimal Debian 12 root filesystem once, import it as `rondo/debian:12`, then install each
 * stack's toolchain from Debian's own packages on top of it. Versions are Debian 12's (node 22 LTS from the npm registry),
 * python 3.11, go 1.19, php 8.2, ruby 3.1.
 */
export const DEBIAN_STACKS: Record<string, DebianStack> = {
  // Debian 12's Node.js is 18, past its end of life: the node stack takes a maintained LTS from
  // the npm registry instead (the same binaries nodejs.org ships), on the same Debian root.
  node: { version: '22', packages: [], fromNpm: ['node-linux-{arch}@22', 'npm@10'] },
  python: { version: '3.11', packages: ['python3', 'python3-pip'] },
  go: { version: '1.19', packages: ['golang-go'] },
  php: { version: '8.2', packages: ['php-cli'] },
  ruby: { version: '3.1', packages: ['ruby', 'ruby-bundler'] },
};

export interface DebianStack {
  version: string;
  /** Debian packages the stack installs. */
  packages: string[];
  /** npm packages fetched by the host's npm into the build context (`{arch}`: x64, arm64). */
  fromNpm?: string[];
}

/** Installs Node.js and npm from the tarballs `npm pack` fetched (bound from the context, not copied). */
const NODE_FROM_NPM = [
  'RUN --mount=type=bind,source=.,target=/ctx \\',
  '    tar -xzf /ctx/node-linux-*.tgz -C /usr/local --strip-components=1 --wildcards "package/bin/*" \\',
  '    && mkdir -p /usr/local/lib/node_modules/npm \\',
  '    && tar -xzf /ctx/npm-*.tgz -C /usr/local/lib/node_modules/npm --strip-components=1 \\',
  '    && ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm \\',
  '    && ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx \\',
  '    && node --version && npm --version',
  // nodejs.org's binaries trust only their own CA list; Debian's node trusts the system's, which a
  // build mounts from the host (the only way to the npm registry here). No update check either.
  'ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt NPM_CONFIG_UPDATE_NOTIFIER=false',
];

/** Told each line a long step prints (debootstrap, apt), for a live progress line. */
export type OutputLine = (line: string) => void;

/** A stack's build may take this long (apt downloads on a slow mirror). */
const STACK_TIMEOUT_MS = 30 * 60_000;

/** Runs a program, telling `onLine` each line it prints; its last lines explain a failure. */
function run(cmd: string, args: string[], onLine: OutputLine): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let tail = '';
    const on = (c: Buffer) => {
      tail = (tail + c.toString()).slice(-400);
      for (const line of c.toString().split('\n')) if (line.trim()) onLine(line.trim());
    };
    child.stdout.on('data', on);
    child.stderr.on('data', on);
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0 ? resolve() : reject(new Error(`${cmd} failed (${code}): ${tail.trim().split('\n').pop()}`)),
    );
  });
}

/**
 * Where the root filesystem goes: a tmpfs when the host has one that allows devices and programs
 * (dpkg syncs every file it unpacks; on a tmpfs that costs nothing), else the temp directory.
 */
function scratchParent(): string {
  try {
    const shm = readFileSync('/proc/mounts', 'utf8')
      .split('\n')
      .map((l) => l.split(' '))
      .find((f) => f[1] === '/dev/shm' && f[2] === 'tmpfs');
    const options = shm?.[3]?.split(',') ?? [];
    if (shm && !options.includes('nodev') && !options.includes('noexec')) return '/dev/shm';
  } catch {
    // no /proc: the temp directory
  }
  return tmpdir();
}

/** debootstrap → `docker import` as `<registry>/rondo/debian:12` (not pushed); returns the tag. */
export async function importDebian(
  images: DockerImages,
  registry: string,
  mirror: string,
  onLine: OutputLine,
  labels: Record<string, string> = {},
): Promise<string> {
  if (!existsSync('/usr/sbin/debootstrap'))
    throw new Error('debootstrap is not installed (apt-get install debootstrap)');
  const root = mkdtempSync(join(scratchParent(), 'rondo-debootstrap-'));
  try {
    onLine(`debootstrap bookworm from ${mirror}`);
    await run('debootstrap', ['--variant=minbase', 'bookworm', root, mirror], onLine);
    onLine('importing the root filesystem');
    const tar = spawn('tar', ['-C', root, '-c', '.'], { stdio: ['ignore', 'pipe', 'ignore'] });
    const tag = `${registry}/rondo/debian:12`;
    await images.importRootfs(tar.stdout, tag, () => undefined, { 'rondo.base-image': 'debian', ...labels });
    return tag;
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

/** debootstrap → docker import → push; returns `<registry>/rondo/debian@sha256:…`. */
export async function bootstrapDebian(
  images: DockerImages,
  registry: string,
  mirror: string,
  log: (line: string) => void,
): Promise<string> {
  const tag = await importDebian(images, registry, mirror, log);
  return `${registry}/rondo/debian@${await images.push(tag)}`;
}

/**
 * One stack's Dockerfile. The package lists come from a stage every stack shares (BuildKit runs
 * it once for stacks built at the same time) and are mounted, like apt's cache, so neither is in
 * the image; dpkg skips its per-file syncs, which a layer does not need, and leaves out manuals
 * and documentation other than copyright notices, as Debian's slim images do.
 */
export function stackDockerfile(debian: string, stack: string): string {
  const s = Object.hasOwn(DEBIAN_STACKS, stack) ? DEBIAN_STACKS[stack] : undefined;
  if (!s) throw new Error(`no Debian stack '${stack}' (known: ${Object.keys(DEBIAN_STACKS).join(', ')})`);
  return [
    `FROM ${debian} AS lists`,
    'RUN apt-get update',
    `FROM ${debian}`,
    'RUN --mount=type=bind,from=lists,source=/var/lib/apt/lists,target=/var/lib/apt/lists,rw \\',
    '    --mount=type=tmpfs,target=/var/cache/apt \\',
    '    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \\',
    "    -o Dpkg::Options::=--force-unsafe-io -o 'Dpkg::Options::=--path-exclude=/usr/share/man/*' \\",
    "    -o 'Dpkg::Options::=--path-exclude=/usr/share/doc/*' -o 'Dpkg::Options::=--path-include=/usr/share/doc/*/copyright' \\",
    `    ${[...s.packages, 'ca-certificates'].join(' ')}`,
    ...(s.fromNpm ? NODE_FROM_NPM : []),
    '',
  ].join('\n');
}

/** `npm pack`s each package (`{arch}` filled in for this machine) into `dir`. */
async function packFromNpm(packages: string[], dir: string, onLine: OutputLine): Promise<void> {
  const arch = process.arch === 'arm64' ? 'arm64' : 'x64';
  const specs = packages.map((p) => p.replace('{arch}', arch));
  onLine(`fetching ${specs.join(', ')} from the npm registry`);
  await run('npm', ['pack', '--silent', '--pack-destination', dir, ...specs], onLine);
}

/** Debian's docker CLI (BuildKit built in), as the platform configures it by default. */
function defaultBuildKit(): BuildKitCli {
  return new BuildKitCli(
    process.env.RONDO_DOCKER_CLI || '/usr/bin/docker',
    process.env.RONDO_DOCKER_SOCKET || '/var/run/docker.sock',
  );
}

/** Builds one stack image on `debian` with BuildKit; returns its tag (not pushed). */
export async function buildStack(
  buildkit: BuildKitCli,
  registry: string,
  debian: string,
  stack: string,
  onLine: OutputLine,
  labels: Record<string, string> = {},
): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), `rondo-stack-${stack}-`));
  try {
    writeFileSync(join(dir, 'Dockerfile'), stackDockerfile(debian, stack));
    const fromNpm = DEBIAN_STACKS[stack]?.fromNpm;
    if (fromNpm) await packFromNpm(fromNpm, dir, onLine);
    const tag = `${registry}/rondo/${stack}:${DEBIAN_STACKS[stack]!.version}`;
    await buildkit.build(
      {
        contextDir: dir,
        dockerfile: join(dir, 'Dockerfile'),
        tag,
        labels: { 'rondo.base-image': stack, ...labels },
        secrets: {},
      },
      onLine,
      STACK_TIMEOUT_MS,
    );
    return tag;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** What images.json records for a pushed stack. */
export function stackRecord(registry: string, stack: string, digest: string, debian: string): BaseImages {
  const version = DEBIAN_STACKS[stack]!.version;
  const recorded: BaseImages = { [stack]: { [version]: `${registry}/rondo/${stack}@${digest}` } };
  // Go's runtime stage is distroless by default; here the Debian base runs the static binary.
  if (stack === 'go') recorded.distroless = { '1': debian };
  return recorded;
}

/** One stack image on top of the Debian base, built and pushed; returns its pinned reference. */
export async function bootstrapStack(
  images: DockerImages,
  registry: string,
  debian: string,
  stack: string,
  log: (line: string) => void,
  buildkit: BuildKitCli = defaultBuildKit(),
): Promise<BaseImages> {
  const tag = await buildStack(buildkit, registry, debian, stack, log);
  return stackRecord(registry, stack, await images.push(tag), debian);
}
