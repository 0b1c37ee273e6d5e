import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

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
  /** Stops the cluster if this process started it. */
  stop(): void;
}

export function startTestCluster(): TestCluster {
  const wasUp = spawnSync(SCRIPT, ['status'], { stdio: 'ignore' }).status === 0;
  const out = execFileSync(SCRIPT, ['up'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  const file = /KUBECONFIG=(\S+)/.exec(out)?.[1];
  if (!file) throw new Error(`kube-test-cluster.sh up printed no KUBECONFIG: ${out}`);
  return {
    kubeconfigPath: file,
    kubeconfig: readFileSync(file, 'utf8'),
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
