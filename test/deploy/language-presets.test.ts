import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CachedBaseImages, cachedBaseImages } from '../helpers/base-images.js';
import { createRepo, type TestRepo } from '../helpers/git.js';
import { docker, execIn, removeImagesLabelled, replicaOf } from '../helpers/images.js';
import {
  type PlatformTestRondo,
  startPlatformRondo,
  startRegistry,
  viaGateway,
  waitForActive,
  waitForBuild,
} from '../helpers/platform.js';

/**
 * Language presets end to end on this machine, where no public registry answers: the stacks are
 * bootstrapped from Debian's packages (as `rondo images bootstrap` does), then services are built
 * from their repository, in the shapes Choreo's samples have (Procfiles, `_` in endpoint names,
 * no runCommand), deployed, and answer through the gateway.
 */
describe('language presets on bootstrapped base images', () => {
  const dir = mkdtempSync(join(tmpdir(), 'rondo-presets-e2e-'));
  let t: PlatformTestRondo;
  let registry: Awaited<ReturnType<typeof startRegistry>>;
  let base: CachedBaseImages;
  let repo: TestRepo;

  /** Creates the component, builds its branch head, and waits for the build and the auto-deploy. */
  // biome-ignore lint/suspicious/noExplicitAny: assertions read arbitrary JSON shapes
  const buildAndDeploy = async (component: Record<string, unknown>): Promise<any> => {
    const c = await t.call('POST', '/api/v1/orgs/default/projects/shop/components', {
      body: { type: 'service', autoDeploy: true, ...component },
    });
    expect(c.status).toBe(201);
    const res = await t.call(
      'POST',
      `/api/v1/orgs/default/projects/shop/components/${component.name}/builds`,
      {
        body: {},
      },
    );
    const build = await waitForBuild(t, res.body.build.id, 300_000);
    expect(build.reason).toBeNull();
    await waitForActive(t, 'shop', component.name as string);
    return build;
  };

  beforeAll(async () => {
    // Bootstrapped from Debian's packages once per machine (as `rondo images bootstrap` does), then reused.
    base = await cachedBaseImages(['node', 'python', 'go', 'php', 'ruby', 'static']);
    registry = await startRegistry(dir);
    t = await startPlatformRondo('pglite', {}, { registry: registry.addr, baseImages: base.baseImages });
    repo = createRepo(join(dir, 'repo'));
    repo.commit({
      'api/package.json': JSON.stringify({
        name: 'books',
        version: '1.0.0',
        private: true,
        scripts: { start: 'node server.js' },
        dependencies: { ms: '2.1.3' },
      }),
      // One real package from the npm registry: fetched through the CA bundle, cached by npm.
      'api/package-lock.json': JSON.stringify({
        name: 'books',
        version: '1.0.0',
        lockfileVersion: 3,
        requires: true,
        packages: {
          '': { name: 'books', version: '1.0.0', dependencies: { ms: '2.1.3' } },
          'node_modules/ms': {
            version: '2.1.3',
            resolved: 'https://registry.npmjs.org/ms/-/ms-2.1.3.tgz',
            integrity:
              'sha512-6FlzubTLZG3J2a/NVCAleEhjzq5oxgHyaCU9yYXvcLsvoVaHJq/s5xXI6/XXP6tz7R9xAOtHnSO/tXtF3WRTlA==',
          },
        },
      }),
      'api/server.js': `require('http').createServer((q, s) => { s.setHeader('content-type', 'application/json'); s.end(JSON.stringify({ books: ['Dune'], path: q.url })); }).listen(8080);\n`,
      // A Vite + React single-page app (its lockfile from the npm registry); routes live in the browser.
      ...fixture('vite-react-spa', 'spa'),
      'go/go.mod': 'module example.com/hello\n\ngo 1.19\n',
      'go/main.go': [
        'package main',
        'import ("fmt"; "net/http")',
        'func main() {',
        '\thttp.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintf(w, "go says %s", r.URL.Path) })',
        '\thttp.ListenAndServe(":8080", nil)',
        '}',
        '',
      ].join('\n'),
      'php/index.php': '<?php echo "php says " . $_SERVER["REQUEST_URI"];\n',
      // wso2/choreo-samples hello-world-php-service, unchanged in shape: an endpoint name with "_"
      // and a Procfile that starts PHP's server on the descriptor's port with a router script.
      'php/Procfile': 'web:php -S 0.0.0.0:8000 index.php\n',
      'php/openapi.yaml': 'openapi: 3.0.0\ninfo: { title: hello, version: 1.0.0 }\npaths: {}\n',
      'php/.choreo/component.yaml': [
        'schemaVersion: 1.0',
        'endpoints:',
        '  - name: hello_world_php',
        '    displayName: Hello World PHP',
        '    service:',
        '      basePath: /',
        '      port: 8000',
        '    type: REST',
        '    networkVisibilities:',
        '      - Public',
        '    schemaFilePath: openapi.yaml',
        '',
      ].join('\n'),
      // Choreo's Ruby samples: `web:` and the command, no space.
      'rb/Procfile': 'web:ruby app.rb\n',
      // Escapes stay escapes: a literal CR LF in Ruby source reads as "\n".
      'rb/app.rb': [
        "require 'socket'",
        'server = TCPServer.new("0.0.0.0", 8080)',
        'loop do',
        '  Thread.new(server.accept) do |c|',
        '    begin',
        '      path = c.gets.to_s.split(" ")[1]',
        '      while (line = c.gets) && line != "\\r\\n"; end',
        '      body = "ruby says #{path}"',
        '      c.print "HTTP/1.1 200 OK\\r\\nContent-Length: #{body.bytesize}\\r\\nConnection: close\\r\\n\\r\\n#{body}"',
        '    rescue StandardError',
        '      nil',
        '    ensure',
        '      c.close',
        '    end',
        '  end',
        'end',
        '',
      ].join('\n'),
      'py/app.py': [
        'from http.server import BaseHTTPRequestHandler, HTTPServer',
        'class H(BaseHTTPRequestHandler):',
        '    def do_GET(self):',
        '        body = ("python says " + self.path).encode()',
        '        self.send_response(200)',
        '        self.send_header("Content-Length", str(len(body)))',
        '        self.end_headers()',
        '        self.wfile.write(body)',
        'HTTPServer(("0.0.0.0", 8080), H).serve_forever()',
        '',
      ].join('\n'),
    });
    await t.call('POST', '/api/v1/orgs/default/projects', { body: { name: 'shop' } });
  }, 600_000);
  afterAll(async () => {
    await t?.rondo.buildQueue?.idle();
    await t?.close();
    registry?.stop();
    base?.stop();
    // The base images stay in the engine for the next run; what this run built goes.
    await removeImagesLabelled(`rondo.built-by=${t.instance}`);
    rmSync(dir, { recursive: true, force: true });
  });

  it('builds a Node.js service with a lockfile (BuildKit, CA bundle as a secret), deploys it, and it answers', async () => {
    const build = await buildAndDeploy({
      name: 'books',
      source: { repoUrl: `file://${repo.path}`, path: 'api' },
      buildPreset: 'nodejs',
      // No version: the default is the one `rondo images bootstrap` provides.
    });
    const buildLog = build.steps.find((s: { name: string }) => s.name === 'build').log;
    expect(buildLog).toContain('building with BuildKit');
    expect(buildLog).toMatch(
      /COPY package.json package-lock.json \.\/\nRUN --mount=type=secret,id=ca[^\n]* npm ci\nCOPY \. \./,
    );
    const answer = await viaGateway(t, 'development.localhost', '/default/shop/books/rest/list');
    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.body)).toEqual({ books: ['Dune'], path: '/list' });
    // npm's cache (a tmpfs during the install) is not in the image.
    const replica = await replicaOf(t.instance, 'shop', 'books', 'development');
    expect(
      (await execIn(replica.id, ['sh', '-c', 'ls -A /tmp/.npm; test -e /tmp/.npm/_cacache'])).exitCode,
    ).toBe(1);
    expect((await execIn(replica.id, ['sh', '-c', 'test -d /app/node_modules/ms'])).exitCode).toBe(0);
    // The generated Dockerfile is read from beside the context, not copied with the application.
    expect((await execIn(replica.id, ['ls', '-A', '/app'])).output.trim().split('\n').sort()).toEqual([
      'node_modules',
      'package-lock.json',
      'package.json',
      'server.js',
    ]);
  }, 300_000);

  it('builds a Python stdlib service without a runCommand (app.py is found), deploys it, and it answers', async () => {
    const build = await buildAndDeploy({
      name: 'py',
      source: { repoUrl: `file://${repo.path}`, path: 'py' },
      buildPreset: 'python',
      buildConfigs: { buildPackLangVersion: '3.11' },
    });
    expect(build.steps.find((x: { name: string }) => x.name === 'build').log).toContain(
      '# start: ["python","app.py"] from app.py, found in the component directory',
    );
    expect(await viaGateway(t, 'development.localhost', '/default/shop/py/rest/hello')).toEqual({
      status: 200,
      body: 'python says /hello',
    });
  }, 300_000);
  for (const [name, preset, configs, endpoint, expected] of [
    ['go', 'go', { buildPackLangVersion: '1.19' }, 'rest', 'go says /hello'],
    ['php', 'php', { buildPackLangVersion: '8.2' }, 'hello-world-php', 'php says /hello'],
    ['rb', 'ruby', { buildPackLangVersion: '3.1' }, 'rest', 'ruby says /hello'],
  ] as const) {
    it(`builds a ${preset} service from its repository, deploys it, and it answers`, async () => {
      const build = await buildAndDeploy({
        name,
        source: { repoUrl: `file://${repo.path}`, path: name },
        buildPreset: preset,
        buildConfigs: configs,
      });
      const answer = await viaGateway(t, 'development.localhost', `/default/shop/${name}/${endpoint}/hello`);
      if (answer.status !== 200) {
        // What the replica said, so a failure here explains itself.
        const [c] = await docker.listContainers({
          filters: { label: [`rondo.instance=${t.instance}`, `rondo.component=${name}`] },
        });
        const logs = c
          ? (await docker.getContainer(c.Id).logs({ stdout: true, stderr: true, tail: 30 })).toString()
          : 'no replica';
        const status = await t.call('GET', `/api/v1/orgs/default/projects/shop/components/${name}/status`);
        expect.fail(
          `${answer.status} ${answer.body}\n${JSON.stringify(status.body.items[0])}\n${logs}\n${build.steps.find((x: { name: string }) => x.name === 'build').log}`,
        );
      }
      expect(answer).toEqual({ status: 200, body: expected });
      if (name === 'php') {
        const log = (step: string) => build.steps.find((x: { name: string }) => x.name === step).log;
        expect(log('build')).toContain(
          `# start: ["php","-S","0.0.0.0:8000","index.php"] from the Procfile's web process`,
        );
        expect(log('update-endpoints')).toContain('hello-world-php:8000 (declared as "hello_world_php")');
      }
    }, 300_000);
  }

  it('builds a Vite React SPA with its buildCommand and outputDirectory; deep links answer index.html with 200', async () => {
    await buildAndDeploy({
      name: 'spa',
      type: 'web-app',
      source: { repoUrl: `file://${repo.path}`, path: 'spa' },
      buildPreset: 'react',
      buildConfigs: { buildCommand: 'npm run build', outputDirectory: 'dist' },
    });
    const host = 'spa.shop.default.development.localhost';
    const shell = await viaGateway(t, host, '/');
    expect(shell.status).toBe(200);
    expect(shell.body).toContain('<div id="root"></div>');
    // Vite's bundle, named by its content hash, with the app's JSX compiled.
    const bundle = /<script type="module" crossorigin src="(\/assets\/index-[\w-]+\.js)">/.exec(
      shell.body,
    )?.[1];
    expect(bundle).toBeDefined();
    expect(await viaGateway(t, host, '/orders/42')).toEqual(shell);
    const js = await viaGateway(t, host, bundle!);
    expect(js.status).toBe(200);
    expect(js.body).toContain('All orders');
    expect(js.body).not.toContain('<h1>');
    // The server runs unprivileged.
    const [replica] = await docker.listContainers({
      filters: { label: [`rondo.instance=${t.instance}`, 'rondo.component=spa'] },
    });
    expect((await docker.getContainer(replica!.Id).inspect()).Config.User).toBe('10014');
  }, 300_000);
});

/** The files of `test/fixtures/<name>`, as `<under>/<path>` → content for a commit. */
function fixture(name: string, under: string): Record<string, string> {
  const root = join(import.meta.dirname, '..', 'fixtures', name);
  const files: Record<string, string> = {};
  for (const entry of readdirSync(root, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const full = join(entry.parentPath, entry.name);
    files[join(under, relative(root, full))] = readFileSync(full, 'utf8');
  }
  return files;
}
