/**
 * F3 build benchmarks on a real Node.js service (nodejs preset, BuildKit, dependencies from the npm
 * registry through the host's CA bundle), on base images bootstrapped from Debian's packages:
 *  - second build after a source-only change (lockfile unchanged) as a share of the first;
 *  - a build's total time (fetch, scan, build, push) against `docker build` of the same generated
 *    Dockerfile and context, from scratch (`--no-cache`) on both sides, in the same run.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bootstrapDebian, bootstrapStack, DEBIAN_STACKS } from '../src/builds/bootstrap-debian.js';
import { generateDockerfile } from '../src/builds/presets.js';
import { DockerImages } from '../src/dataplane/docker/docker-images.js';
import { defaultBuildWorkDir } from '../src/platform-config.js';
import { createRepo } from '../test/helpers/git.js';
import { removeImagesLabelled } from '../test/helpers/images.js';
import { startPlatformRondo, startRegistry } from '../test/helpers/platform.js';
import { type BuildStep, stepTimes, timedBuild } from './timed-build.js';

const PACKAGE = {
  name: 'books',
  version: '1.0.0',
  private: true,
  scripts: { start: 'node server.js' },
  dependencies: { ms: '2.1.3', 'left-pad': '1.3.0', express: '4.21.2' },
};

export async function benchNodeBuilds(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'rondo-bench-node-'));
  const registry = await startRegistry(dir);
  const images = new DockerImages();
  process.stdout.write('(bootstrapping the Debian base and the node stack: about 2 minutes)\n');
  const debian = await bootstrapDebian(
    images,
    registry.addr,
    'http://deb.debian.org/debian',
    () => undefined,
  );
  const node = await bootstrapStack(images, registry.addr, debian, 'node', () => undefined);
  // The store in a directory, as `make up` runs it: an in-memory PGlite is initialised in the
  // server's own process, which then keeps ~880 MB resident, and every git or docker process the
  // server starts pays for forking that (35 ms a spawn against 10 ms).
  const t = await startPlatformRondo(
    'pglite',
    {},
    {
      registry: registry.addr,
      baseImages: node,
      dataDir: join(dir, 'data'),
      buildWorkDir: defaultBuildWorkDir(join(dir, 'data')),
    },
  );
  try {
    const repo = createRepo(join(dir, 'repo'));
    writeFileSync(join(repo.path, 'package.json'), JSON.stringify(PACKAGE, null, 2));
    execFileSync('npm', ['install', '--package-lock-only', '--ignore-scripts', '--no-audit', '--no-fund'], {
      cwd: repo.path,
      stdio: 'ignore',
    });
    const server = (v: number) => `require('http').createServer((q, s) => s.end('v${v}')).listen(8080);\n`;
    repo.commit({ 'server.js': server(1) });
    await t.call('POST', '/api/v1/orgs/default/projects', { body: { name: 'bench' } });
    await t.call('POST', '/api/v1/orgs/default/projects/bench/components', {
      body: {
        name: 'api',
        type: 'service',
        source: { repoUrl: `file://${repo.path}` },
        buildPreset: 'nodejs',
        buildConfigs: { buildPackLangVersion: DEBIAN_STACKS.node!.version },
      },
    });
    const build = () => timedBuild(t, '/api/v1/orgs/default/projects/bench/components/api/builds', {});
    const first = await build();
    repo.commit({ 'server.js': server(2) });
    const second = await build();
    const steps = (b: { steps: BuildStep[] }) => stepTimes(b.steps);
    // Where a build's time goes outside its steps: the request, the queue, retention, the follower.
    const around = (b: {
      requested: number;
      answered: number;
      seen: number;
      finishedAt: string;
      steps: { startedAt?: string; endedAt?: string }[];
    }) => {
      const first = Date.parse(b.steps[0]?.startedAt ?? '');
      const last = Date.parse(b.steps.at(-1)?.endedAt ?? '');
      const between = b.steps
        .slice(1)
        .reduce(
          (sum, s, i) => sum + Date.parse(s.startedAt ?? '') - Date.parse(b.steps[i]?.endedAt ?? ''),
          0,
        );
      const finished = Date.parse(b.finishedAt);
      return `request ${b.answered - b.requested} ms, then to init ${first - b.answered} ms, between steps ${between} ms, last step to succeeded ${finished - last} ms, to its follower seeing it ${b.seen - finished} ms`;
    };
    console.log(
      `first build (npm ci from the registry)   ${first.ms.toFixed(0)} ms   [${steps(first.build)}]`,
    );
    console.log(
      `second build, source-only change        ${second.ms.toFixed(0)} ms   [${steps(second.build)}]`,
    );
    console.log(
      `second / first                          ${((second.ms / first.ms) * 100).toFixed(0)}% (target ≤ 35%)`,
    );

    // Overhead: the same generated Dockerfile and context with `docker build`, no cache on either
    // side. Both fetch npm packages from the registry, so the order alternates to keep the
    // registry's own warm-up out of the ratio.
    const rondo: number[] = [];
    const plain: number[] = [];
    let last = first;
    const plainBuild = (i: number) => {
      const generated = generateDockerfile(
        'nodejs',
        repo.path,
        { buildPackLangVersion: DEBIAN_STACKS.node!.version },
        node,
      );
      writeFileSync(join(dir, 'Dockerfile.plain'), generated.dockerfile);
      // The same context as Rondo's: the tree at the commit, without the repository's `.git`.
      const context = join(dir, `plain-${i}`);
      mkdirSync(context);
      execFileSync('sh', ['-c', `git -C "$1" archive HEAD | tar -x -C "$2"`, 'sh', repo.path, context]);
      execFileSync('/usr/bin/docker', ['builder', 'prune', '-af'], { stdio: 'ignore' });
      const t0 = performance.now();
      execFileSync(
        '/usr/bin/docker',
        [
          'build',
          '-q',
          '--no-cache',
          '--secret',
          'id=ca,src=/etc/ssl/certs/ca-certificates.crt',
          '-f',
          join(dir, 'Dockerfile.plain'),
          '-t',
          `rondo-bench-plain:${i}`,
          '--label',
          'rondo.test-image=bench',
          context,
        ],
        { env: { ...process.env, DOCKER_BUILDKIT: '1' }, stdio: 'ignore' },
      );
      plain.push(performance.now() - t0);
    };
    // CPU this process (the control plane) spends while each kind of build runs: the server's
    // own work competes with the build for the machine's cores.
    const cpu: number[] = [];
    const buildStep: number[] = [];
    const rondoBuild = async () => {
      execFileSync('/usr/bin/docker', ['builder', 'prune', '-af'], { stdio: 'ignore' });
      const c0 = process.cpuUsage();
      last = await build();
      const c = process.cpuUsage(c0);
      cpu.push((c.user + c.system) / 1000);
      rondo.push(last.ms);
      const step = last.build.steps.find((x) => x.name === 'build');
      buildStep.push(Date.parse(step?.endedAt ?? '') - Date.parse(step?.startedAt ?? ''));
    };
    // Nine commits each side: the npm registry's answers vary by a few hundred ms from one
    // install to the next, so medians of five swung the ratio by ±0.1.
    const PAIRS = 9;
    for (let i = 3; i < 3 + PAIRS; i++) {
      repo.commit({ 'server.js': server(i) });
      if (i % 2) {
        await rondoBuild();
        plainBuild(i);
      } else {
        plainBuild(i);
        await rondoBuild();
      }
    }
    const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    const all = (xs: number[]) =>
      [...xs]
        .sort((a, b) => a - b)
        .map((x) => x.toFixed(0))
        .join(' ');
    console.log(
      `build from scratch (fetch, scan, build, push)  median ${med(rondo).toFixed(0)} ms over ${PAIRS} commits [${all(rondo)}]`,
    );
    console.log(`  its build step alone: median ${med(buildStep).toFixed(0)} ms [${all(buildStep)}]`);
    console.log(`  the last one's steps: ${steps(last.build)}`);
    console.log(`  and around them: ${around(last.build)}`);
    console.log(
      `  control-plane CPU during a build: median ${med(cpu).toFixed(0)} ms; resident memory ${(process.memoryUsage().rss / 1e6).toFixed(0)} MB`,
    );
    console.log(
      `docker build (BuildKit) of the same, no cache  median ${med(plain).toFixed(0)} ms [${all(plain)}]`,
    );
    console.log(
      `ratio                                          ${(med(rondo) / med(plain)).toFixed(2)}× (target ≤ 1.2×)`,
    );
    // Each Rondo build ran right before or after its `docker build`: the ratio within each pair
    // leaves out drifts in the registry's speed that the two medians take at different times.
    const paired = rondo.map((r, i) => r / plain[i]!);
    console.log(
      `  per pair: median ${med(paired).toFixed(2)}× [${[...paired]
        .sort((a, b) => a - b)
        .map((x) => x.toFixed(2))
        .join(' ')}]`,
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
