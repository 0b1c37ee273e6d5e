import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { generateDockerfile, loadBaseImages } from './presets.js';

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
    expect(l.at(-2)).toBe('USER 10014');
    expect(l.at(-1)).toBe('CMD ["npm","start"]');
  });

  it('nodejs: yarn and pnpm lockfiles, main, and runCommand as data (exec form)', () => {
    expect(
      generateDockerfile('nodejs', project({ 'package.json': '{"main":"a.js"}', 'yarn.lock': '' }), {})
        .dockerfile,
    ).toMatch(/yarn install --frozen-lockfile[\s\S]*CMD \["node","a.js"\]/);
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
    expect(cmd).toContain('CMD ["/bin/sh","-c","node x.js; echo \\"$HOME\\""]');
    expect(() => generateDockerfile('nodejs', project({ 'package.json': '{}' }), {})).toThrow(
      /no "start" script or "main"/,
    );
  });

  it('names the versions a site has when one is asked for that it has not', () => {
    expect(() =>
      generateDockerfile('nodejs', project({ 'package.json': '{}', 'index.js': '' }), {
        buildPackLangVersion: '12',
      }),
    ).toThrow(/node 12 is not available on this site \(available: 18, 20, 22\)/);
  });

  it('python needs runCommand and installs requirements before the source', () => {
    expect(() => generateDockerfile('python', project({}), {})).toThrow(/needs runCommand/);
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
      /FROM gcr.io\/distroless\/static-debian12\nCOPY --from=build \/out\/app \/app\nUSER 10014\nENTRYPOINT \["\/app"\]$/,
    );
  });

  it('php, ruby, java and dotnet produce runnable Dockerfiles', () => {
    expect(generateDockerfile('php', project({ 'index.php': '' }), {}).dockerfile).toMatch(
      /CMD \["php","-S","0.0.0.0:8080","-t","\/app"\]$/,
    );
    expect(
      generateDockerfile('ruby', project({ Gemfile: '' }), { runCommand: 'ruby app.rb' }).dockerfile,
    ).toMatch(/bundle install[\s\S]*USER 10014/);
    const java = generateDockerfile('java', project({ 'pom.xml': '<project/>' }), {
      buildPackLangVersion: '17',
    }).dockerfile;
    expect(java).toMatch(
      /FROM eclipse-temurin:17-jdk AS build[\s\S]*FROM eclipse-temurin:17-jre\nCOPY --from=build \/out\/app.jar \/app\/app.jar\nUSER 10014\nCMD \["java","-jar","\/app\/app.jar"\]$/,
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
