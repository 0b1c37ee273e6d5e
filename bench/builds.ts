/**
 * F3 build benchmarks against the real engine and registry (dockerfile preset, so no base-image
 * bootstrap is needed):
 *  - re-requesting a build of an already built commit (reuse: no engine work);
 *  - a build's total time against `docker build` of the same Dockerfile and context in the same run.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { bootstrapStaticImage } from '../src/build/bootstrap-images.js';
import { DockerImages } from '../src/dataplane/docker/docker-images.js';
import { createRepo } from '../test/helpers/git.js';
import { removeImagesLabelled } from '../test/helpers/images.js';
import { startPlatformRondo, startRegistry } from '../test/helpers/platform.js';

const pct = (xs: number[], p: number) =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]!;

export async function benchBuilds(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'rondo-bench-builds-'));
  const registry = await startRegistry(dir);
  const base = await bootstrapStaticImage(new DockerImages(), registry.addr, () => undefined);
  const t = await startPlatformRondo('pglite', {}, { registry: registry.addr });
  try {
    const repo = createRepo(join(dir, 'repo'));
    const files: Record<string, string> = {
      Dockerfile: `FROM ${base}\nCOPY www /www\nRUN echo built > /www/built\nUSER 10014\nCMD ["httpd", "-f", "-p", "8080", "-h", "/www"]\n`,
    };
    for (let i = 0; i < 200; i++) files[`www/page-${i}.html`] = `<p>page ${i}</p>`.repeat(50);
    repo.commit(files);
    copyFileSync(join(repo.path, 'Dockerfile'), join(dir, 'Dockerfile.copy'));
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
    const wait = async (id: string) => {
      for (;;) {
        const b = (await t.call('GET', `/api/v1/orgs/default/builds/${id}`)).body;
        if (b.status !== 'queued' && b.status !== 'running') return b;
        await sleep(20);
      }
    };

    // Build overhead: Rondo (POST → succeeded, including fetch, scan, push) vs docker build of the same tree.
    const rondo: number[] = [];
    const plain: number[] = [];
    let commit = '';
    for (let i = 0; i < 5; i++) {
      commit = repo.commit({ [`www/run-${i}.txt`]: String(i) });
      const t0 = performance.now();
      const res = await t.call('POST', url, { body: { commit } });
      const b = await wait(res.body.build.id);
      if (b.status !== 'succeeded') throw new Error(`build failed: ${b.reason}`);
      rondo.push(performance.now() - t0);
      if (process.env.RONDO_BENCH_VERBOSE) {
        const log: string = b.steps.find((st: { name: string }) => st.name === 'build').log;
        console.log(
          `build ${i}: ${log
            .split('\n')
            .filter((l) => /Step 1\/|Successfully built/.test(l))
            .join(' | ')}`,
        );
      }
      if (i === 4) {
        const steps = b.steps.map((st: { name: string; startedAt?: string; endedAt?: string }) =>
          st.startedAt && st.endedAt
            ? `${st.name} ${Date.parse(st.endedAt) - Date.parse(st.startedAt)} ms`
            : `${st.name} -`,
        );
        console.log(`steps of the last build             ${steps.join(', ')}`);
        if (process.env.RONDO_BENCH_VERBOSE)
          console.log(b.steps.find((st: { name: string }) => st.name === 'build').log);
      }
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
          repo.path,
        ],
        {
          env: { ...process.env, DOCKER_BUILDKIT: '0' },
          stdio: 'ignore',
        },
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
