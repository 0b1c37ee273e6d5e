import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BuildPreset } from '../domain/component.js';
import {
  declaredStart,
  detectedStart,
  entrypointOf,
  nothingToStart,
  type StartCommand,
} from './start-command.js';

/**
 * Dockerfiles generated from detection + build configs (§4), the way Nixpacks/Railpack do:
 * dependency manifests are copied and installed before the source so that layer is reused when
 * only the source changes, and the runtime stage runs as the non-root UID 10014.
 */

/** Base images by stack and version (`images.<stack>.<version>`); official images by default. */
export type BaseImages = Record<string, Record<string, string>>;

export const DEFAULT_BASE_IMAGES: BaseImages = {
  node: {
    '18': 'node:18-bookworm-slim',
    '20': 'node:20-bookworm-slim',
    '22': 'node:22-bookworm-slim',
    '24': 'node:24-bookworm-slim',
  },
  python: { '3.11': 'python:3.11-slim-bookworm', '3.12': 'python:3.12-slim-bookworm' },
  go: { '1.19': 'golang:1.19-bookworm', '1.22': 'golang:1.22-bookworm' },
  php: { '8.2': 'php:8.2-cli-bookworm' },
  ruby: { '3.1': 'ruby:3.1-slim-bookworm', '3.3': 'ruby:3.3-slim-bookworm' },
  java: { '17': 'eclipse-temurin:17-jdk', '21': 'eclipse-temurin:21-jdk' },
  'java-runtime': { '17': 'eclipse-temurin:17-jre', '21': 'eclipse-temurin:21-jre' },
  dotnet: { '8.0': 'mcr.microsoft.com/dotnet/sdk:8.0' },
  'dotnet-runtime': { '8.0': 'mcr.microsoft.com/dotnet/aspnet:8.0' },
  // Caddy serves static sites and SPAs (try_files answers unknown paths with index.html, 200).
  static: { '2': 'caddy:2' },
  distroless: { '1': 'gcr.io/distroless/static-debian12' },
};

const DEFAULT_VERSION: Record<string, string> = {
  // The LTS line `rondo images bootstrap` provides (Node 20's life ended in April 2026).
  node: '22',
  python: '3.11',
  go: '1.19',
  php: '8.2',
  ruby: '3.1',
  java: '17',
  dotnet: '8.0',
  static: '2',
};

export const RUNTIME_UID = 10014;

export class PresetError extends Error {}

export interface GeneratedBuild {
  dockerfile: string;
  /** The port the image serves on when the preset decides it (static sites, PHP). */
  port: number;
  /** What the image runs and why (language presets; static sites run Caddy). */
  start?: StartCommand;
}

/** Component types that run to completion: PHP runs their script instead of serving it. */
const TASK_TYPES = new Set(['scheduled-task', 'manual-task']);

/**
 * The image's process as its last lines: ENTRYPOINT in exec form and no CMD, so a task run's
 * arguments are appended to the program's argv. The comment says in the build log where it came from.
 */
function startLines(start: StartCommand): string[] {
  return [
    `# start: ${JSON.stringify(start.argv)} from ${start.source}`,
    `ENTRYPOINT ${JSON.stringify(start.argv)}`,
  ];
}

function baseImage(images: BaseImages, stack: string, version: string | undefined): string {
  // A runtime stack (java-runtime) follows its build stack's version.
  const v = version ?? DEFAULT_VERSION[stack.replace(/-runtime$/, '')] ?? '';
  const ref = images[stack]?.[v];
  if (!ref) {
    const available = Object.keys(images[stack] ?? {}).join(', ') || 'none';
    throw new PresetError(
      `${stack} ${v} is not available on this site (available: ${available}); set buildPackLangVersion to one of them`,
    );
  }
  return ref;
}

const exists = (dir: string, file: string) => existsSync(join(dir, file));

function nodeInstall(dir: string): { copy: string; install: string } {
  if (exists(dir, 'pnpm-lock.yaml'))
    return {
      copy: 'package.json pnpm-lock.yaml',
      install: 'corepack enable && pnpm install --frozen-lockfile',
    };
  if (exists(dir, 'yarn.lock'))
    return { copy: 'package.json yarn.lock', install: 'yarn install --frozen-lockfile' };
  if (exists(dir, 'package-lock.json')) return { copy: 'package.json package-lock.json', install: 'npm ci' };
  return { copy: 'package.json', install: 'npm install' };
}

function nodeStart(dir: string, runCommand: string | undefined): StartCommand {
  const declared = declaredStart(dir, runCommand);
  if (declared) return declared;
  const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as {
    scripts?: Record<string, string>;
    main?: string;
  };
  // The start script runs without npm, so arguments and the exit code are the program's own
  // (npm would read `--` and flags itself); node_modules/.bin is on PATH as npm puts it.
  if (pkg.scripts?.start)
    return { argv: entrypointOf(pkg.scripts.start, 'start'), source: 'the start script of package.json' };
  if (pkg.main) return { argv: ['node', pkg.main], source: 'the main of package.json' };
  const found = detectedStart(dir, [
    ['server.js', ['node', 'server.js']],
    ['index.js', ['node', 'index.js']],
  ]);
  if (found) return found;
  throw nothingToStart(
    'nodejs',
    ['a "start" script or "main" in package.json', 'server.js', 'index.js'],
    'node index.js',
  );
}

/** The registry a build reaches for packages needs the host's CA bundle; mounted, never copied into a layer. */
const CA = '--mount=type=secret,id=ca,target=/etc/ssl/certs/ca-certificates.crt';
/**
 * The package manager's cache (under HOME=/tmp) lives in memory during the install, so it never
 * reaches the layer: the image is smaller by the cache (a copy of every package, compressed) and
 * the push has that much less to compress and upload.
 */
const TMPFS = '--mount=type=tmpfs,target=/tmp';

export function generateDockerfile(
  preset: BuildPreset,
  dir: string,
  configs: Record<string, string>,
  images: BaseImages = DEFAULT_BASE_IMAGES,
  componentType = 'service',
): GeneratedBuild {
  const user = `USER ${RUNTIME_UID}`;
  const version = configs.buildPackLangVersion;
  const port = Number(configs.port ?? 8080);
  switch (preset) {
    case 'nodejs': {
      if (!exists(dir, 'package.json'))
        throw new PresetError('the nodejs preset needs a package.json in the component directory');
      const { copy, install } = nodeInstall(dir);
      const start = nodeStart(dir, configs.runCommand);
      return {
        port,
        start,
        dockerfile: [
          `FROM ${baseImage(images, 'node', version)}`,
          'WORKDIR /app',
          'ENV NODE_ENV=production',
          // npm writes its cache and logs under HOME; the runtime user has none of its own.
          'ENV HOME=/tmp NPM_CONFIG_CACHE=/tmp/.npm',
          'ENV PATH=/app/node_modules/.bin:$PATH',
          `COPY ${copy} ./`,
          `RUN ${CA} ${TMPFS} ${install}`,
          'COPY . .',
          user,
          ...startLines(start),
        ].join('\n'),
      };
    }
    case 'python': {
      const start =
        declaredStart(dir, configs.runCommand) ??
        detectedStart(dir, [
          ['main.py', ['python', 'main.py']],
          ['app.py', ['python', 'app.py']],
        ]);
      if (!start) throw nothingToStart('python', ['main.py', 'app.py'], 'python main.py');
      const deps = exists(dir, 'requirements.txt')
        ? ['COPY requirements.txt ./', `RUN ${CA} pip install --no-cache-dir -r requirements.txt`]
        : exists(dir, 'pyproject.toml')
          ? ['COPY pyproject.toml ./', `RUN ${CA} pip install --no-cache-dir .`]
          : [];
      return {
        port,
        start,
        dockerfile: [
          `FROM ${baseImage(images, 'python', version)}`,
          // Output reaches the logs as it is written, not when a buffer fills or the program ends.
          'ENV PYTHONUNBUFFERED=1',
          // Procfiles say `python`; Debian's python3 packages do not provide that name.
          'RUN command -v python >/dev/null || ln -s "$(command -v python3)" /usr/local/bin/python',
          'WORKDIR /app',
          ...deps,
          'COPY . .',
          user,
          ...startLines(start),
        ].join('\n'),
      };
    }
    case 'go': {
      if (!exists(dir, 'go.mod'))
        throw new PresetError('the go preset needs a go.mod in the component directory');
      // The runtime stage holds the program alone (no shell): a declared command runs as plain words.
      const start = declaredStart(dir, configs.runCommand, false) ?? {
        argv: ['/app'],
        source: 'the module in the component directory, built to /app',
      };
      return {
        port,
        start,
        dockerfile: [
          `FROM ${baseImage(images, 'go', version)} AS build`,
          'WORKDIR /src',
          'COPY go.mod go.sum* ./',
          `RUN ${CA} go mod download`,
          'COPY . .',
          'RUN CGO_ENABLED=0 go build -trimpath -o /out/app .',
          `FROM ${baseImage(images, 'distroless', '1')}`,
          'COPY --from=build /out/app /app',
          user,
          ...startLines(start),
        ].join('\n'),
      };
    }
    case 'php': {
      // A service is served by PHP's own web server; a task runs its script to the end.
      const start =
        declaredStart(dir, configs.runCommand) ??
        (TASK_TYPES.has(componentType)
          ? detectedStart(dir, [
              ['index.php', ['php', 'index.php']],
              ['main.php', ['php', 'main.php']],
            ])
          : {
              argv: ['php', '-S', `0.0.0.0:${port}`, '-t', '/app'],
              source: `PHP's built-in web server on port ${port}, serving the component directory`,
            });
      if (!start) throw nothingToStart('php', ['index.php', 'main.php'], 'php index.php');
      return {
        port,
        start,
        dockerfile: [
          `FROM ${baseImage(images, 'php', version)}`,
          'WORKDIR /app',
          ...(exists(dir, 'composer.json')
            ? ['COPY composer.json composer.lock* ./', `RUN ${CA} composer install --no-dev --no-interaction`]
            : []),
          'COPY . .',
          user,
          ...startLines(start),
        ].join('\n'),
      };
    }
    case 'ruby': {
      const start =
        declaredStart(dir, configs.runCommand) ??
        detectedStart(dir, [
          ['app.rb', ['ruby', 'app.rb']],
          ['main.rb', ['ruby', 'main.rb']],
        ]);
      if (!start) throw nothingToStart('ruby', ['app.rb', 'main.rb'], 'ruby app.rb');
      return {
        port,
        start,
        dockerfile: [
          `FROM ${baseImage(images, 'ruby', version)}`,
          'WORKDIR /app',
          ...(exists(dir, 'Gemfile') ? ['COPY Gemfile Gemfile.lock* ./', `RUN ${CA} bundle install`] : []),
          'COPY . .',
          user,
          ...startLines(start),
        ].join('\n'),
      };
    }
    case 'java': {
      const maven = exists(dir, 'pom.xml');
      if (!maven && !exists(dir, 'build.gradle') && !exists(dir, 'build.gradle.kts'))
        throw new PresetError('the java preset needs a pom.xml or a build.gradle');
      const start = declaredStart(dir, configs.runCommand) ?? {
        argv: ['java', '-jar', '/app/app.jar'],
        source: 'the jar the build made',
      };
      return {
        port,
        start,
        dockerfile: [
          `FROM ${baseImage(images, 'java', version)} AS build`,
          'WORKDIR /src',
          'COPY . .',
          maven
            ? `RUN ${CA} ./mvnw -q -DskipTests package || mvn -q -DskipTests package`
            : `RUN ${CA} ./gradlew -q build -x test || gradle -q build -x test`,
          'RUN mkdir /out && cp $(ls target/*.jar build/libs/*.jar 2>/dev/null | grep -v plain | head -1) /out/app.jar',
          `FROM ${baseImage(images, 'java-runtime', version)}`,
          'COPY --from=build /out/app.jar /app/app.jar',
          user,
          ...startLines(start),
        ].join('\n'),
      };
    }
    case 'dotnet': {
      const start = declaredStart(dir, configs.runCommand) ?? {
        argv: ['dotnet', `${configs.assemblyName ?? 'app'}.dll`],
        source: 'the assemblyName build config (default app)',
      };
      return {
        port,
        start,
        dockerfile: [
          `FROM ${baseImage(images, 'dotnet', version)} AS build`,
          'WORKDIR /src',
          'COPY *.csproj ./',
          `RUN ${CA} dotnet restore`,
          'COPY . .',
          'RUN dotnet publish -c Release -o /out',
          `FROM ${baseImage(images, 'dotnet-runtime', version)}`,
          'WORKDIR /app',
          'COPY --from=build /out .',
          `ENV ASPNETCORE_URLS=http://+:${port}`,
          user,
          ...startLines(start),
        ].join('\n'),
      };
    }
    case 'static':
      return { port: 8080, dockerfile: staticRuntime(images, 'COPY . /www') };
    case 'react':
    case 'vue':
    case 'angular': {
      if (!exists(dir, 'package.json')) throw new PresetError(`the ${preset} preset needs a package.json`);
      const { copy, install } = nodeInstall(dir);
      const out = configs.outputDirectory ?? (preset === 'react' ? 'build' : 'dist');
      return {
        port: 8080,
        dockerfile: [
          `FROM ${baseImage(images, 'node', configs.nodeVersion)} AS build`,
          'WORKDIR /app',
          `COPY ${copy} ./`,
          `RUN ${CA} ${install}`,
          'COPY . .',
          `RUN ${configs.buildCommand ?? 'npm run build'}`,
          staticRuntime(images, `COPY --from=build /app/${out.replace(/^\.?\/+/, '')} /www`, true),
        ].join('\n'),
      };
    }
    case 'dockerfile':
      throw new PresetError('the dockerfile preset uses the repository’s own Dockerfile');
  }
}

/**
 * Caddy's file server, unprivileged, with its admin API off. `spa` answers paths that name no
 * file with index.html and status 200, so client-side routes survive a reload.
 */
function staticRuntime(images: BaseImages, copy: string, spa = false): string {
  const caddyfile = [
    '{',
    'admin off',
    'auto_https off',
    '}',
    ':8080 {',
    'root * /www',
    ...(spa ? ['try_files {path} {path}/ /index.html'] : []),
    'file_server',
    '}',
  ];
  return [
    `FROM ${baseImage(images, 'static', undefined)}`,
    copy,
    `RUN printf '%s\\n' ${caddyfile.map((l) => `'${l}'`).join(' ')} > /etc/rondo-Caddyfile`,
    'ENV XDG_CONFIG_HOME=/tmp XDG_DATA_HOME=/tmp HOME=/tmp',
    user(),
    'EXPOSE 8080',
    'CMD ["caddy", "run", "--adapter", "caddyfile", "--config", "/etc/rondo-Caddyfile"]',
  ].join('\n');
}

function user(): string {
  return `USER ${RUNTIME_UID}`;
}

/**
 * The site's base images: the defaults, overridden per stack and version by `images.json` in the
 * data directory (written by `rondo images bootstrap`, or by hand for a local mirror).
 */
export function loadBaseImages(file: string): BaseImages {
  if (!existsSync(file)) return DEFAULT_BASE_IMAGES;
  const site = JSON.parse(readFileSync(file, 'utf8')) as BaseImages;
  const merged: BaseImages = { ...DEFAULT_BASE_IMAGES };
  for (const [stack, versions] of Object.entries(site)) merged[stack] = { ...merged[stack], ...versions };
  return merged;
}
