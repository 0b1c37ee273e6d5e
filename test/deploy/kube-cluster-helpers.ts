import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { EnvironmentRef } from '../../src/dataplane/driver.js';
import { LABEL } from '../../src/dataplane/labels.js';
import { registryConfigText } from '../../src/platform/registry.js';

/**
 * The test cluster (scripts/kube-test-cluster.sh) for the tests that need a real Kubernetes:
 * started by the first that needs it, stopped by the one that started it. A cluster that was
 * already up (a developer's) is used and left running.
 */
const SCRIPTS = join(import.meta.dirname, '../../scripts');
const SCRIPT = join(SCRIPTS, 'kube-test-cluster.sh');
const RUN = join(process.env.RONDO_KUBE_RUN ?? '/var/tmp/rondo-kube', 'run');

export interface TestCluster {
  /** The admin kubeconfig's path. */
  kubeconfigPath: string;
  /** Its YAML text (what a `kubernetes` data plane record's config holds). */
  kubeconfig: string;
  /** `host:port` the node pulls from over plain HTTP (`serveToCluster` puts a registry there). */
  registry: string;
  /** Stops the cluster if this process started it. */
  stop(): void;
}

export function startTestCluster(): TestCluster {
  const wasUp = spawnSync(SCRIPT, ['status'], { stdio: 'ignore' }).status === 0;
  const out = execFileSync(SCRIPT, ['up'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  const file = /KUBECONFIG=(\S+)/.exec(out)?.[1];
  const registry = /REGISTRY=(\S+)/.exec(out)?.[1];
  if (!file || !registry)
    throw new Error(`kube-test-cluster.sh up printed no KUBECONFIG or REGISTRY: ${out}`);
  return {
    kubeconfigPath: file,
    kubeconfig: readFileSync(file, 'utf8'),
    registry,
    stop: () => {
      if (!wasUp) execFileSync(SCRIPT, ['down'], { stdio: 'inherit' });
    },
  };
}

/** Polls `read` until it gives a value (errors count as not yet). */
export async function until<T>(what: string, read: () => Promise<T | undefined>, ms = 120_000): Promise<T> {
  const end = Date.now() + ms;
  let last: unknown;
  for (;;) {
    const value = await read().catch((err: unknown) => {
      last = err;
      return undefined;
    });
    if (value !== undefined) return value;
    if (Date.now() > end)
      throw new Error(`timed out waiting for ${what}${last ? ` (last error: ${last})` : ''}`);
    await sleep(250);
  }
}

/**
 * Loads a busybox image whose ENTRYPOINT is `entrypoint` into the cluster's containerd (nothing
 * pulls in the test cluster): pods use it with `imagePullPolicy: IfNotPresent`.
 */
export function loadBusyboxImage(ref: string, entrypoint: string[]): void {
  const dir = mkdtempSync(join(tmpdir(), 'rondo-kube-image-'));
  try {
    const root = join(dir, 'root');
    for (const d of ['bin', 'etc', 'tmp']) mkdirSync(join(root, d), { recursive: true });
    copyFileSync('/bin/busybox', join(root, 'bin/busybox'));
    writeFileSync(join(root, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\n');
    writeFileSync(join(root, 'etc/group'), 'root:x:0:\n');
    const tar = join(dir, 'image.tar');
    execFileSync('python3', [join(SCRIPTS, 'kube-image.py'), '--entrypoint', root, ref, tar, ...entrypoint], {
      stdio: 'ignore',
    });
    execFileSync(
      'ctr',
      ['--address', join(RUN, 'containerd/containerd.sock'), '-n', 'k8s.io', 'images', 'import', tar],
      { stdio: 'ignore' },
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * The platform registry's pull door for the cluster, as `rondo up` runs it
 * (`RONDO_REGISTRY_PULL_LISTEN`): a read-only registry on the storage `root` of the test's own
 * registry, at the address the node pulls from, asking for `user`'s password when given one.
 */
export async function serveToCluster(
  root: string,
  address: string,
  user?: { name: string; password: string },
): Promise<{ stop(): Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'rondo-kube-door-'));
  let htpasswd: string | undefined;
  if (user) {
    htpasswd = join(dir, 'htpasswd');
    // Distribution takes bcrypt only; Debian's Python has it through libxcrypt.
    const hash = execFileSync(
      '/usr/bin/python3',
      [
        '-W',
        'ignore',
        '-c',
        'import crypt,sys; print(crypt.crypt(sys.argv[1], crypt.mksalt(crypt.METHOD_BLOWFISH)))',
        user.password,
      ],
      { encoding: 'utf8' },
    ).trim();
    writeFileSync(htpasswd, `${user.name}:${hash}\n`);
  }
  const config = join(dir, 'door.yml');
  writeFileSync(config, registryConfigText(root, address, htpasswd ? { htpasswd } : {}));
  const child = spawn('docker-registry', ['serve', config], { stdio: 'ignore' });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const kill = () => child.kill('SIGTERM');
  process.once('exit', kill);
  await until(
    'the registry door to answer',
    async () => (await fetch(`http://${address}/v2/`).then((r) => r.status < 500)) || undefined,
    30_000,
  );
  return {
    async stop() {
      process.off('exit', kill);
      kill();
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Removes an image from the node's containerd (what a pull left there). */
export function removeNodeImage(ref: string): void {
  spawnSync(
    'ctr',
    ['--address', join(RUN, 'containerd/containerd.sock'), '-n', 'k8s.io', 'images', 'rm', ref],
    {
      stdio: 'ignore',
    },
  );
}

/** The `rondo.*` labels the control plane gives a revision of `component` in `ref`. */
export function revisionLabels(
  ref: EnvironmentRef,
  component: string,
  deployment: string,
): Record<string, string> {
  return {
    [LABEL.instance]: ref.instance,
    [LABEL.managed]: 'true',
    [LABEL.org]: ref.org,
    [LABEL.project]: ref.project,
    [LABEL.environment]: ref.environment,
    [LABEL.component]: component,
    [LABEL.deployment]: deployment,
  };
}
