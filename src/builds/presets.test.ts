import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { generateDockerfile, loadBaseImages } from './presets.js';
import { parseProcfile, simpleWords } from './start-command.js';

describe('generated Dockerfiles', () => {
  const root = mkdtempSync(join(tmpdir(), 'rondo-presets-'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));
  let n = 0;
  const project = (files: Record<string, string>) => {
    const dir = join(root, String(n++));
    mkdirSync(dir);
    for (const [f, c] of Object.entries(files)) writeFileSync(join(dir, f), c);
    return dir;
  };
  const lines = (s: string) => s.split('\n');

  it('nodejs: lockfile first for a reusable dependency layer, start script, non-root user', () => {
    const dir = project({
      'package.json': '{"scripts":{"start":"node server.js"}}',
      'package-lock.json': '{}',
    });
    const { dockerfile } = generateDockerfile('nodejs', dir, { buildPackLangVersion: '18' });
    const l = lines(dockerfile);
    expect(l).toContain('FROM node:18-bookworm-slim');
    expect(l.indexOf('COPY package.json package-lock.json ./')).toBeLessThan(l.indexOf('COPY . .'));
    expect(dockerfile).toMatch(
      /RUN --mount=type=secret,id=ca,target=\/etc\/ssl\/certs\/ca-certificates.crt --mount=type=tmpfs,target=\/tmp npm ci/,
    );
    expect(l.at(-3)).toBe('USER 10014');
    // The start script runs without npm: arguments and the exit code are the program's own.
    expect(l.at(-1)).toBe('ENTRYPOINT ["node","server.js"]');
    expect(l.at(-2)).toBe('# start: ["node","server.js"] from the start script of package.json');
    expect(dockerfile).not.toMatch(/^CMD/m);
  });

  it('nodejs: yarn and pnpm lockfiles, main, and runCommand as data (exec form)', () => {
    expect(
      generateDockerfile('nodejs', project({ 'package.json': '{"main":"a.js"}', 'yarn.lock': '' }), {})
        .dockerfile,
    ).toMatch(/yarn install --frozen-lockfile[\s\S]*ENTRYPOINT \["node","a.js"\]$/);
    expect(
      generateDockerfile(
        'nodejs',
        project({ 'package.json': '{}', 'pnpm-lock.yaml': '', 'index.js': '' }),
        {},
      ).dockerfile,
    ).toMatch(/pnpm install --frozen-lockfile/);
    const cmd = generateDockerfile('nodejs', project({ 'package.json': '{}' }), {
      runCommand: 'node x.js; echo "$HOME"',
    }).dockerfile;
    // A command line that needs a shell gets one, with the arguments after it as words.
    expect(cmd).toContain('ENTRYPOINT ["/bin/sh","-c","node x.js; echo \\"$HOME\\" \\"$@\\"","runCommand"]');
    expect(() => generateDockerfile('nodejs', project({ 'package.json': '{}' }), {})).toThrow(
      'the nodejs preset found nothing to run: no runCommand build config, no Procfile, and none of a "start" script or "main" in package.json, server.js, index.js in the component directory; add a Procfile such as "web: node index.js", or set runCommand',
    );
  });

  it('names the versions a site has when one is asked for that it has not', () => {
    expect(() =>
      generateDockerfile('nodejs', project({ 'package.json': '{}', 'index.js': '' }), {
        buildPackLangVersion: '12',
      }),
    ).toThrow(/node 12 is not available on this site \(available: 18, 20, 22, 24\)/);
  });

  it('python installs requirements before the source', () => {
    const d = generateDockerfile('python', project({ 'requirements.txt': 'flask' }), {
      runCommand: 'python3 app.py',
    }).dockerfile;
    expect(d).toMatch(
      /COPY requirements.txt \.\/\nRUN --mount=type=secret[^\n]* pip install --no-cache-dir -r requirements.txt\nCOPY \. \./,
    );
  });

  it('go builds statically in one stage and runs in a minimal one', () => {
    const d = generateDockerfile('go', project({ 'go.mod': 'module x' }), {}).dockerfile;
    expect(d).toMatch(/^FROM golang:1.19-bookworm AS build/);
    expect(d).toMatch(
      /FROM gcr.io\/distroless\/static-debian12\nCOPY --from=build \/out\/app \/app\nUSER 10014\n# start: [^\n]*\nENTRYPOINT \["\/app"\]$/,
    );
  });

  it('php, ruby, java and dotnet produce runnable Dockerfiles', () => {
    expect(generateDockerfile('php', project({ 'index.php': '' }), {}).dockerfile).toMatch(
      /ENTRYPOINT \["php","-S","0.0.0.0:8080","-t","\/app"\]$/,
    );
    expect(
      generateDockerfile('ruby', project({ Gemfile: '' }), { runCommand: 'ruby app.rb' }).dockerfile,
    ).toMatch(/bundle install[\s\S]*USER 10014/);
    const java = generateDockerfile('java', project({ 'pom.xml': '<project/>' }), {
      buildPackLangVersion: '17',
    }).dockerfile;
    expect(java).toMatch(
      /FROM eclipse-temurin:17-jdk AS build[\s\S]*FROM eclipse-temurin:17-jre\nCOPY --from=build \/out\/app.jar \/app\/app.jar\nUSER 10014\n# start: [^\n]*\nENTRYPOINT \["java","-jar","\/app\/app.jar"\]$/,
    );
    expect(() => generateDockerfile('java', project({}), {})).toThrow(/pom.xml or a build.gradle/);
    const dotnet = generateDockerfile('dotnet', project({ 'app.csproj': '' }), { port: '5000' }).dockerfile;
    expect(dotnet).toMatch(/dotnet restore[\s\S]*ENV ASPNETCORE_URLS=http:\/\/\+:5000\nUSER 10014/);
  });

  it('static and SPA presets serve files with Caddy, unprivileged; only SPAs fall back to index.html', () => {
    const s = generateDockerfile('static', project({ 'index.html': '' }), {});
    expect(s.port).toBe(8080);
    expect(s.dockerfile).toMatch(/^FROM caddy:2\nCOPY \. \/www\nRUN printf .*'root \* \/www' 'file_server'/);
    expect(s.dockerfile).toMatch(/USER 10014\nEXPOSE 8080\nCMD \["caddy", "run"/);
    expect(s.dockerfile).not.toContain('try_files');
    const spa = generateDockerfile('react', project({ 'package.json': '{}', 'package-lock.json': '{}' }), {
      buildCommand: 'npm run build',
      outputDirectory: 'build',
      nodeVersion: '20',
    }).dockerfile;
    expect(spa).toMatch(
      /FROM node:20-bookworm-slim AS build[\s\S]*RUN npm run build\nFROM caddy:2\nCOPY --from=build \/app\/build \/www\nRUN printf .*'try_files \{path\} \{path\}\/ \/index.html'/,
    );
    expect(generateDockerfile('vue', project({ 'package.json': '{}' }), {}).dockerfile).toContain(
      'COPY --from=build /app/dist /www',
    );
  });

  it('takes the site’s base images from images.json over the defaults', () => {
    const file = join(root, 'images.json');
    writeFileSync(
      file,
      JSON.stringify({
        static: { '1': 'mirror.local/static@sha256:abc' },
        node: { '18': 'mirror.local/node:18' },
      }),
    );
    const images = loadBaseImages(file);
    expect(images.static?.['1']).toBe('mirror.local/static@sha256:abc');
    expect(images.node).toMatchObject({ '18': 'mirror.local/node:18', '20': 'node:20-bookworm-slim' });
  });
});

describe('what a preset-built image runs', () => {
  const root = mkdtempSync(join(tmpdir(), 'rondo-start-'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));
  let n = 0;
  const project = (files: Record<string, string>) => {
    const dir = join(root, String(n++));
    mkdirSync(dir);
    for (const [f, c] of Object.entries(files)) writeFileSync(join(dir, f), c);
    return dir;
  };
  const start = (
    preset: Parameters<typeof generateDockerfile>[0],
    files: Record<string, string>,
    configs: Record<string, string> = {},
    type = 'service',
  ) => {
    const g = generateDockerfile(preset, project(files), configs, undefined, type);
    // The image's last line is its process, exec form; the line before says why, in the build log.
    expect(g.dockerfile.split('\n').at(-1)).toBe(`ENTRYPOINT ${JSON.stringify(g.start!.argv)}`);
    expect(g.dockerfile.split('\n').at(-2)).toBe(
      `# start: ${JSON.stringify(g.start!.argv)} from ${g.start!.source}`,
    );
    return g.start!;
  };

  it("honours Choreo's Procfiles (web, or the only process; `web:cmd` without a space) for services and tasks", () => {
    // The shapes of Choreo's samples: hello-world-php-service, -php-task, -ruby-task, -python-task.
    for (const type of ['service', 'manual-task', 'scheduled-task']) {
      expect(
        start('php', { Procfile: 'web:php -S 0.0.0.0:8000 index.php\n', 'index.php': '' }, {}, type),
      ).toEqual({
        argv: ['php', '-S', '0.0.0.0:8000', 'index.php'],
        source: "the Procfile's web process",
      });
      expect(start('php', { Procfile: 'web: php index.php\n', 'index.php': '' }, {}, type).argv).toEqual([
        'php',
        'index.php',
      ]);
      expect(start('ruby', { Procfile: 'web:ruby app.rb\n', 'app.rb': '' }, {}, type).argv).toEqual([
        'ruby',
        'app.rb',
      ]);
      expect(start('python', { Procfile: 'web: python main.py\n', 'main.py': '' }, {}, type).argv).toEqual([
        'python',
        'main.py',
      ]);
      expect(
        start('nodejs', { Procfile: 'web: node job.js', 'package.json': '{"main":"x.js"}' }, {}, type).argv,
      ).toEqual(['node', 'job.js']);
      expect(start('go', { Procfile: 'web: /app --once', 'go.mod': 'module x' }, {}, type).argv).toEqual([
        '/app',
        '--once',
      ]);
    }
    expect(
      start('python', { Procfile: '# jobs\nworker: python work.py\nweb: python web.py\n', 'main.py': '' })
        .argv,
    ).toEqual(['python', 'web.py']);
    expect(start('python', { Procfile: 'worker: python work.py\n' })).toEqual({
      argv: ['python', 'work.py'],
      source: "the Procfile's worker process",
    });
    expect(() => start('python', { Procfile: 'a: python a.py\nb: python b.py\n' })).toThrow(
      'the Procfile has processes a, b and none is named web; name the one to run "web", or set runCommand',
    );
    expect(() => start('ruby', { Procfile: 'nothing here\n' })).toThrow(/the Procfile names no process/);
  });

  it('runCommand wins over the Procfile; a command line that needs a shell gets one, arguments after it', () => {
    const files = { Procfile: 'web: python main.py', 'main.py': '' };
    expect(start('python', files, { runCommand: 'python other.py --fast' })).toEqual({
      argv: ['python', 'other.py', '--fast'],
      source: 'the runCommand build config',
    });
    expect(start('ruby', { Procfile: 'web: bundle exec ruby app.rb -p $PORT' }).argv).toEqual([
      '/bin/sh',
      '-c',
      'bundle exec ruby app.rb -p $PORT "$@"',
      'web',
    ]);
    // Go's runtime image has no shell.
    expect(() => start('go', { 'go.mod': 'module x' }, { runCommand: '/app > /tmp/log' })).toThrow(
      /needs a shell, and this image has none/,
    );
  });

  it('falls back to the entry points the preset detects, and says what it looked for when there is none', () => {
    expect(start('python', { 'main.py': '', 'app.py': '' })).toEqual({
      argv: ['python', 'main.py'],
      source: 'main.py, found in the component directory',
    });
    expect(start('python', { 'app.py': '' }).argv).toEqual(['python', 'app.py']);
    expect(start('ruby', { 'app.rb': '' }).argv).toEqual(['ruby', 'app.rb']);
    expect(start('ruby', { 'main.rb': '' }).argv).toEqual(['ruby', 'main.rb']);
    expect(start('go', { 'go.mod': 'module x' }).argv).toEqual(['/app']);
    expect(start('nodejs', { 'package.json': '{"main":"lib/job.js"}' }).argv).toEqual(['node', 'lib/job.js']);
    expect(start('nodejs', { 'package.json': '{}', 'server.js': '' }).argv).toEqual(['node', 'server.js']);
    expect(start('nodejs', { 'package.json': '{"scripts":{"start":"tsx src/main.ts"}}' }).argv).toEqual([
      'tsx',
      'src/main.ts',
    ]);
    // PHP serves a service and runs a task's script to its end.
    expect(start('php', { 'index.php': '' }).argv).toEqual(['php', '-S', '0.0.0.0:8080', '-t', '/app']);
    for (const type of ['manual-task', 'scheduled-task']) {
      expect(start('php', { 'index.php': '' }, {}, type).argv).toEqual(['php', 'index.php']);
      expect(start('php', { 'main.php': '' }, {}, type).argv).toEqual(['php', 'main.php']);
    }
    expect(() => start('python', { 'requirements.txt': '' })).toThrow(
      'the python preset found nothing to run: no runCommand build config, no Procfile, and none of main.py, app.py in the component directory; add a Procfile such as "web: python main.py", or set runCommand',
    );
    expect(() => start('ruby', {})).toThrow(/none of app.rb, main.rb in the component directory/);
    expect(() => start('php', {}, {}, 'manual-task')).toThrow(
      /none of index.php, main.php in the component directory; add a Procfile such as "web: php index.php"/,
    );
  });

  it('python images have `python` (Procfiles say it) and unbuffered output', () => {
    const d = generateDockerfile('python', project({ 'main.py': '' }), {}).dockerfile;
    expect(d).toContain('ENV PYTHONUNBUFFERED=1');
    expect(d).toContain('ln -s "$(command -v python3)" /usr/local/bin/python');
  });

  it('reads Procfiles and plain command lines', () => {
    expect(
      parseProcfile('web:php -S 0.0.0.0:8000 index.php\r\nworker:  ruby w.rb  \n\n# c\nbad line\n'),
    ).toEqual([
      ['web', 'php -S 0.0.0.0:8000 index.php'],
      ['worker', 'ruby w.rb'],
    ]);
    expect(simpleWords(`python  main.py "a b" 'c d'`)).toEqual(['python', 'main.py', 'a b', 'c d']);
    expect(simpleWords('node --max-old-space-size=512 x.js')).toEqual([
      'node',
      '--max-old-space-size=512',
      'x.js',
    ]);
    for (const needsShell of [
      'python main.py $PORT',
      'a | b',
      'a && b',
      'a; b',
      'a > f',
      'PORT=1 node x.js',
      'echo "$HOME"',
      'ls *.py',
      'a \\ b',
      '"unterminated',
      '',
    ])
      expect(simpleWords(needsShell), needsShell).toBeUndefined();
  });
});
