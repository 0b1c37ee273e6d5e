/**
 * F3 build benchmarks against the real engine and registry (dockerfile preset, so no base-image
 * bootstrap is needed):
 *  - re-requesting a build of an already built commit (reuse: no engine work);
 *  - a build's total time against `docker build` of the same Dockerfile and context in the same run.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bootstrapStaticImage } from '../src/builds/bootstrap-images.js';
import { DockerImages } from '../src/dataplane/docker/docker-images.js';
import { defaultBuildWorkDir } from '../src/platform-config.js';
import { createRepo } from '../test/helpers/git.js';
import { removeImagesLabelled } from '../test/helpers/images.js';
import { startPlatformRondo, startRegistry } from '../test/helpers/platform.js';
import { stepTimes, timedBuild } from './timed-build.js';

const pct = (xs: number[], p: number) =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]!;

export async function benchBuilds(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'rondo-bench-builds-'));
  const registry = await startRegistry(dir);
  const base = await bootstrapStaticImage(new DockerImages(), registry.addr, () => undefined);
  // The store in a directory, as a site runs it (see node-builds.ts).
  const t = await startPlatformRondo(
    'pglite',
    {},
    {
      registry: registry.addr,
      dataDir: join(dir, 'data'),
      buildWorkDir: defaultBuildWorkDir(join(dir, 'data')),
    },
  );
  try {
    const repo = createRepo(join(dir, 'repo'));
    const files: Record<string, string> = {
      Dockerfile: `FROM ${base}\nCOPY www /www\nRUN echo built > /www/built\nUSER 10014\nCMD ["httpd", "-f", "-p", "8080", "-h", "/www"]\n`,
    };
    for (let i = 0; i < 200; i++) files[`www/page-${i}.html`] = `<p>page ${i}</p>`.repeat(50);
    repo.commit(files);
    await t.call('POST', '/api/v1/orgs/default/projects', { body: { name: 'bench' } });
    await t.call('POST', '/api/v1/orgs/default/projects/bench/components', {
      body: {
        name: 'site',
        type: 'service',
        source: { repoUrl: `file://${repo.path}` },
        buildPreset: 'dockerfile',
        buildConfigs: { dockerFilePath: 'Dockerfile' },
      },
    });
    const url = '/api/v1/orgs/default/projects/bench/components/site/builds';
    // Build overhead: Rondo (request → succeeded, including fetch, scan, push) vs docker build of
    // the same tree (without the repository's .git, as Rondo's context is).
    const rondo: number[] = [];
    const plain: number[] = [];
    let commit = '';
    for (let i = 0; i < 5; i++) {
      commit = repo.commit({ [`www/run-${i}.txt`]: String(i) });
      const { ms, build } = await timedBuild(t, url, { commit });
      rondo.push(ms);
      if (i === 4) console.log(`steps of the last build             ${stepTimes(build.steps)}`);
      const context = join(dir, `plain-${i}`);
      mkdirSync(context);
      execFileSync('sh', ['-c', `git -C "$1" archive HEAD | tar -x -C "$2"`, 'sh', repo.path, context]);
      const t1 = performance.now();
      execFileSync(
        '/usr/bin/docker',
        [
          'build',
          '-q',
          '--no-cache',
          '-t',
          `rondo-bench-plain:${i}`,
          '--label',
          'rondo.test-image=bench',
          context,
        ],
        { env: { ...process.env, DOCKER_BUILDKIT: '0' }, stdio: 'ignore' },
      );
      plain.push(performance.now() - t1);
    }
    const med = (xs: number[]) => pct(xs, 50);
    console.log(`build (fetch, scan, build, push)   median ${med(rondo).toFixed(0)} ms over 5 commits`);
    console.log(`docker build of the same tree       median ${med(plain).toFixed(0)} ms`);
    console.log(
      `ratio                               ${(med(rondo) / med(plain)).toFixed(2)}× (target ≤ 1.2×; Rondo also fetches, scans and pushes)`,
    );

    // Reuse: the same commit again, 100 times.
    const reuse: number[] = [];
    for (let i = 0; i < 100; i++) {
      const t0 = performance.now();
      const res = await t.call('POST', url, { body: { commit } });
      reuse.push(performance.now() - t0);
      if (!res.body.reused) throw new Error('expected reuse');
    }
    console.log(
      `re-request a built commit           p50 ${pct(reuse, 50).toFixed(1)} ms, p99 ${pct(reuse, 99).toFixed(1)} ms (target < 200 ms)`,
    );
    const branch: number[] = [];
    for (let i = 0; i < 20; i++) {
      const t0 = performance.now();
      await t.call('POST', url, { body: {} });
      branch.push(performance.now() - t0);
    }
    console.log(
      `re-request the branch head          p50 ${pct(branch, 50).toFixed(1)} ms (git ls-remote included)`,
    );
  } finally {
    await t.rondo.buildQueue?.idle();
    await t.close();
    registry.stop();
    // Children first: the engine refuses to remove an image that others are built on.
    await removeImagesLabelled('rondo.build', 'rondo.test-image=bench', 'rondo.base-image');
    rmSync(dir, { recursive: true, force: true });
  }
}
