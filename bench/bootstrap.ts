/**
 * `rondo images bootstrap` from a cold engine cache: the old sequence (static, debootstrap, each
 * stack built and pushed in turn; bench/bootstrap-sequential.ts) against today's (static beside
 * debootstrap, every stack built at once on the one Debian root, pushed as each is ready), in the
 * same run, each into a registry of its own. Every image carries `rondo.bench=bootstrap` and is
 * removed before each path and at the end, so both start cold and nothing else is touched; the
 * BuildKit cache records the new path made (BuildKit's cache has no labels) are removed by id.
 * BENCH_STACKS=node,python limits the stacks (for trying one change quickly).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEBIAN_STACKS } from '../src/builds/bootstrap-debian.js';
import { bootstrapBaseImages } from '../src/builds/bootstrap-run.js';
import { BuildKitCli } from '../src/builds/buildkit-cli.js';
import { formatBytes } from '../src/builds/push-log.js';
import { DockerImages } from '../src/dataplane/docker/docker-images.js';
import { docker, removeImagesLabelled } from '../test/helpers/images.js';
import { startRegistry } from '../test/helpers/platform.js';
import { bootstrapSequentially } from './bootstrap-sequential.js';

const LABEL = { 'rondo.bench': 'bootstrap' };
const MIRROR = 'http://deb.debian.org/debian';
/** The issue's figure for the old path on this machine, all stacks. */
const BEFORE_S = 376;

export async function benchBootstrap(): Promise<void> {
  const stacks = (process.env.BENCH_STACKS ?? Object.keys(DEBIAN_STACKS).join(','))
    .split(',')
    .filter(Boolean);
  const dir = mkdtempSync(join(tmpdir(), 'rondo-bench-bootstrap-'));
  const images = new DockerImages();
  const buildkit = new BuildKitCli(process.env.RONDO_DOCKER_CLI || '/usr/bin/docker', '/var/run/docker.sock');
  const names = ['static', 'debian', ...stacks];
  const tagOf = (registry: string, name: string) =>
    name === 'static'
      ? `${registry}/rondo/static:2`
      : name === 'debian'
        ? `${registry}/rondo/debian:12`
        : `${registry}/rondo/${name}:${DEBIAN_STACKS[name]!.version}`;
  let cacheBefore: Set<string> | undefined;
  try {
    process.stdout.write(`stacks: ${stacks.join(', ')}; the old path first, then the new\n`);
    await removeImagesLabelled('rondo.bench=bootstrap');
    mkdirSync(join(dir, 'old'));
    mkdirSync(join(dir, 'new'));
    const oldRegistry = await startRegistry(join(dir, 'old'));
    const oldLaps: Record<string, number> = {};
    const t0 = performance.now();
    await bootstrapSequentially(images, oldRegistry.addr, MIRROR, stacks, LABEL, (name, ms) => {
      oldLaps[name] = ms;
      process.stdout.write(`  old ${name.padEnd(7)} ${(ms / 1000).toFixed(1)} s\n`);
    });
    const oldMs = performance.now() - t0;
    const oldSizes = await sizes(images, names, (n) => tagOf(oldRegistry.addr, n));
    oldRegistry.stop();

    await removeImagesLabelled('rondo.bench=bootstrap');
    const newRegistry = await startRegistry(join(dir, 'new'));
    cacheBefore = await buildCacheIds();
    const started: Record<string, number> = {};
    const newSpans: Record<string, number> = {};
    const t1 = performance.now();
    await bootstrapBaseImages(
      { images, buildkit },
      { registry: newRegistry.addr, mirror: MIRROR, stacks, labels: LABEL },
      {
        line: (text) => {
          const m = /^([▸✓✗]) (\S+)/.exec(text);
          if (!m?.[2]) return;
          if (m[1] === '▸') started[m[2]] = performance.now();
          else newSpans[m[2]] = performance.now() - (started[m[2]] ?? t1);
          process.stdout.write(`  new ${text}\n`);
        },
        live: () => undefined,
        built: () => undefined,
      },
    );
    const newMs = performance.now() - t1;
    const newSizes = await sizes(images, names, (n) => tagOf(newRegistry.addr, n));
    newRegistry.stop();

    console.log('\nimage     old: alone, in turn   new: alone, at once   size old → new');
    for (const n of names)
      console.log(
        `${n.padEnd(9)} ${`${((oldLaps[n] ?? 0) / 1000).toFixed(1)} s`.padStart(19)}   ${`${((newSpans[n] ?? 0) / 1000).toFixed(1)} s`.padStart(19)}   ${oldSizes[n]} → ${newSizes[n]}`,
      );
    console.log(
      `first bootstrap, ${stacks.length} stack(s): old ${(oldMs / 1000).toFixed(1)} s, new ${(newMs / 1000).toFixed(1)} s, new/old ${((newMs / oldMs) * 100).toFixed(0)}%; new against the issue's ${BEFORE_S} s (the target: ≤ 50% of it) ${((newMs / 1000 / BEFORE_S) * 100).toFixed(0)}%`,
    );
  } finally {
    await removeImagesLabelled('rondo.bench=bootstrap').catch(() => undefined);
    if (cacheBefore) await removeBuildCacheSince(cacheBefore).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
}

async function sizes(
  images: DockerImages,
  names: string[],
  tagOf: (name: string) => string,
): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const n of names) out[n] = await images.size(tagOf(n)).then(formatBytes, () => '?');
  return out;
}

/** BuildKit's cache records now. */
async function buildCacheIds(): Promise<Set<string>> {
  const df = (await docker.df()) as { BuildCache?: { ID: string }[] };
  return new Set((df.BuildCache ?? []).map((c) => c.ID));
}

/**
 * Removes the BuildKit cache records made since `before`. Runs under the engine lock, so nobody
 * else built in between: these are the bench's own (BuildKit's cache has no labels).
 */
async function removeBuildCacheSince(before: Set<string>): Promise<void> {
  // The docker CLI, not dockerode: dockerode's pruneBuilder drops its filters (it would prune all).
  const cli = process.env.RONDO_DOCKER_CLI || '/usr/bin/docker';
  for (const id of await buildCacheIds())
    if (!before.has(id))
      execFileSync(cli, ['builder', 'prune', '--all', '--force', '--filter', `id=${id}`], {
        stdio: 'ignore',
      });
}
