import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CachedBaseImages, cachedBaseImages } from '../helpers/base-images.js';
import { createRepo, type TestRepo } from '../helpers/git.js';
import { removeImagesLabelled } from '../helpers/images.js';
import {
  type PlatformTestRondo,
  startPlatformRondo,
  startRegistry,
  waitForActive,
  waitForBuild,
} from '../helpers/platform.js';
import { cleanEnv, cli, ensureBuilt } from '../helpers/processes.js';

const P = '/api/v1/orgs/default/projects/jobs/components';
/** Spaces, quotes, a `--`, an option and shell syntax: each must arrive as one word, untouched. */
const ARGS = ['a b', `it's "quoted"`, '--', '--flag=x', '$HOME *'];

// biome-ignore lint/suspicious/noExplicitAny: assertions read arbitrary JSON shapes
type Json = any;

/**
 * `rondo run <task> -- args` for every preset (§8, G1 #4): manual tasks built from a real
 * repository in the shapes Choreo's samples use (Procfiles, package.json main, a Go module,
 * Dockerfiles with ENTRYPOINT or only CMD), each printing its argv as JSON and exiting with the
 * number of arguments it got, so a non-zero exit code has to come through as well.
 */
describe('task arguments reach the program', () => {
  const dir = mkdtempSync(join(tmpdir(), 'rondo-task-args-'));
  let base: CachedBaseImages;
  let registry: Awaited<ReturnType<typeof startRegistry>>;
  let t: PlatformTestRondo;
  let repo: TestRepo;
  const builds = new Map<string, Promise<Json>>();

  const python = [
    'import json, sys',
    'print("ARGV=" + json.dumps(sys.argv[1:]))',
    'sys.exit(len(sys.argv) - 1)',
    '',
  ].join('\n');
  const tasks: Record<
    string,
    { preset: string; configs?: Record<string, string>; files: Record<string, string> }
  > = {
    // Choreo's NodeJS manual tasks run package.json's main.
    node: {
      preset: 'nodejs',
      // No version: the default is the one `rondo images bootstrap` provides.
      files: {
        'package.json': JSON.stringify({ name: 'job', version: '1.0.0', main: 'job.js' }),
        'job.js':
          'console.log("ARGV=" + JSON.stringify(process.argv.slice(2)));\nprocess.exitCode = process.argv.length - 2;\n',
      },
    },
    // wso2/choreo-samples hello-world-python-task: a Procfile that says `python`.
    python: { preset: 'python', files: { Procfile: 'web: python main.py\n', 'main.py': python } },
    // A run command that needs a shell: the arguments still come after it as words.
    'python-shell': {
      preset: 'python',
      configs: { runCommand: 'cd /app && exec python3 main.py' },
      files: { 'main.py': python },
    },
    go: {
      preset: 'go',
      files: {
        'go.mod': 'module example.com/job\n\ngo 1.19\n',
        'main.go': [
          'package main',
          'import ("encoding/json"; "fmt"; "os")',
          'func main() {',
          '\tb, _ := json.Marshal(os.Args[1:])',
          '\tfmt.Println("ARGV=" + string(b))',
          '\tos.Exit(len(os.Args) - 1)',
          '}',
          '',
        ].join('\n'),
      },
    },
    // wso2/choreo-samples hello-world-php-task.
    php: {
      preset: 'php',
      files: {
        Procfile: 'web: php index.php\n',
        'index.php':
          '<?php\necho "ARGV=" . json_encode(array_slice($argv, 1)) . "\\n";\nexit(count($argv) - 1);\n',
      },
    },
    // wso2/choreo-samples hello-world-ruby-task: `web:` without a space.
    ruby: {
      preset: 'ruby',
      files: {
        Procfile: 'web:ruby app.rb\n',
        'app.rb': "require 'json'\nputs 'ARGV=' + JSON.generate(ARGV)\nexit ARGV.length\n",
      },
    },
  };
  /** Dockerfile tasks: ENTRYPOINT (Docker appends), CMD only (appended here), shell-form CMD. */
  const dockerfiles = {
    'docker-entrypoint': 'ENTRYPOINT ["python3", "/app/main.py"]',
    'docker-cmd': 'CMD ["python3", "/app/main.py"]',
    'docker-shell-cmd': 'CMD python3 /app/main.py',
  };

  const startBuild = async (name: string, component: Record<string, unknown>) => {
    const c = await t.call('POST', P, {
      body: {
        name,
        type: 'manual-task',
        autoDeploy: true,
        source: { repoUrl: `file://${repo.path}`, path: name },
        ...component,
      },
    });
    expect(c.status, JSON.stringify(c.body)).toBe(201);
    const b = await t.call('POST', `${P}/${name}/builds`, { body: {} });
    expect(b.status, JSON.stringify(b.body)).toBe(202);
    builds.set(name, waitForBuild(t, b.body.build.id, 600_000));
  };
  const built = async (name: string) => {
    const build = await builds.get(name)!;
    const log = build.steps.map((s: Json) => `--- ${s.name}\n${s.log}`).join('\n');
    expect(build.status, log).toBe('succeeded');
    expect((await waitForActive(t, 'jobs', name, 60_000)).items[0]?.active?.status).toBe('active');
    return log as string;
  };
  const ended = async (id: string): Promise<Json> => {
    for (;;) {
      const x = (await t.call('GET', `/api/v1/orgs/default/executions/${id}`)).body;
      if (x.status !== 'running') return x;
      await sleep(200);
    }
  };
  const runWith = async (name: string, args: string[]) => {
    const r = await t.call('POST', `${P}/${name}/executions`, { body: { environment: 'development', args } });
    expect(r.status, JSON.stringify(r.body)).toBe(202);
    const x = await ended(r.body.id);
    const logs = String(
      (await t.call('GET', `/api/v1/orgs/default/executions/${r.body.id}/logs`)).body ?? '',
    );
    const line = /^ARGV=(.*)$/m.exec(logs);
    return { x, logs, argv: line ? (JSON.parse(line[1]!) as string[]) : undefined };
  };

  beforeAll(async () => {
    base = await cachedBaseImages(['node', 'python', 'go', 'php', 'ruby']);
    registry = await startRegistry(dir);
    t = await startPlatformRondo('pglite', {}, { registry: registry.addr, baseImages: base.baseImages });
    repo = createRepo(join(dir, 'repo'));
    const files: Record<string, string> = {};
    for (const [name, task] of Object.entries(tasks))
      for (const [f, c] of Object.entries(task.files)) files[`${name}/${f}`] = c;
    for (const [name, process] of Object.entries(dockerfiles)) {
      files[`${name}/main.py`] = python;
      files[`${name}/Dockerfile`] = [
        `FROM ${base.baseImages.python!['3.11']}`,
        'COPY main.py /app/main.py',
        'USER 10014',
        process,
        '',
      ].join('\n');
    }
    files['nothing/README.md'] = 'No program here.\n';
    repo.commit(files);
    await t.call('POST', '/api/v1/orgs/default/projects', { body: { name: 'jobs' } });
    // Every build is queued at once; the queue runs them two at a time.
    for (const [name, task] of Object.entries(tasks))
      await startBuild(name, { buildPreset: task.preset, buildConfigs: task.configs ?? {} });
    for (const name of Object.keys(dockerfiles))
      await startBuild(name, { buildPreset: 'dockerfile', buildConfigs: { dockerFilePath: 'Dockerfile' } });
    await startBuild('nothing', { buildPreset: 'python', buildConfigs: {} });
    ensureBuilt();
  }, 900_000);
  afterAll(async () => {
    await t?.rondo.buildQueue?.idle();
    await t?.close();
    registry?.stop();
    base?.stop();
    // The base images stay in the engine for the next run; what this run built goes.
    await removeImagesLabelled(`rondo.built-by=${t.instance}`);
    rmSync(dir, { recursive: true, force: true });
  });

  for (const name of [...Object.keys(tasks), ...Object.keys(dockerfiles)]) {
    it(`${name}: the program gets exactly the arguments, and its exit code is the execution's`, async () => {
      const log = await built(name);
      const run = await runWith(name, ARGS);
      expect(run.argv, `${run.logs}\n${JSON.stringify(run.x)}\n${log}`).toEqual(ARGS);
      expect(run.x).toMatchObject({ status: 'failed', exitCode: ARGS.length, args: ARGS });
      // Without arguments the image's own process runs as it is: nothing, exit 0.
      const bare = await runWith(name, []);
      expect(bare.argv, bare.logs).toEqual([]);
      expect(bare.x).toMatchObject({ status: 'succeeded', exitCode: 0 });
    }, 600_000);
  }

  it('the build log says what the image runs and where that came from', async () => {
    expect(await built('python')).toContain(`# start: ["python","main.py"] from the Procfile's web process`);
    expect(await built('node')).toContain('# start: ["node","job.js"] from the main of package.json');
    expect(await built('python-shell')).toContain(
      '# start: ["/bin/sh","-c","cd /app && exec python3 main.py \\"$@\\"","runCommand"] from the runCommand build config',
    );
  });

  it('a source with nothing to run fails its build, saying what was looked for and the fix', async () => {
    const build = await builds.get('nothing')!;
    expect(build.status).toBe('failed');
    expect(build.reason).toBe(
      'build: the python preset found nothing to run: no runCommand build config, no Procfile, and none of main.py, app.py in the component directory; add a Procfile such as "web: python main.py", or set runCommand',
    );
  });

  it('rondo run --follow prints the output and exits with the program’s exit code', async () => {
    await built('ruby');
    const env = cleanEnv({ RONDO_SERVER: t.apiUrl, RONDO_TOKEN: t.adminToken, HOME: dir });
    const r = await cli(
      ['run', 'ruby', '--project', 'jobs', '--env', 'development', '--follow', '--', ...ARGS],
      env,
    );
    expect(r.stdout).toContain(`ARGV=${JSON.stringify(ARGS)}`);
    expect(r.status, r.stderr).toBe(ARGS.length);
    const ok = await cli(['run', 'ruby', '--project', 'jobs', '--env', 'development', '--follow'], env);
    expect(ok.stdout).toContain('ARGV=[]');
    expect(ok.status, ok.stderr).toBe(0);
  }, 120_000);
});
