import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BuildPreset } from '../domain/component.js';

/**
 * Dockerfiles generated from detection + build configs (§4), the way Nixpacks/Railpack do:
 * dependency manifests are copied and installed before the source so that layer is reused when
 * only the source changes, and the runtime stage runs as the non-root UID 10014.
 */

/** Base images by stack and version (`images.<stack>.<version>`); official images by default. */
export type BaseImages = Record<string, Record<string, string>>;

export const DEFAULT_BASE_IMAGES: BaseImages = {
  node: { '18': 'node:18-bookworm-slim', '20': 'node:20-bookworm-slim', '22': 'node:22-bookworm-slim' },
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
  node: '20',
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
/** A shell command as an exec-form JSON array, so nothing is interpolated by a shell at build time. */
const shellCmd = (cmd: string) => JSON.stringify(['/bin/sh', '-c', cmd]);

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

function nodeStart(dir: string, runCommand: string | undefined): string {
  if (runCommand) return shellCmd(runCommand);
  const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as {
    scripts?: Record<string, string>;
    main?: string;
  };
  if (pkg.scripts?.start) return JSON.stringify(['npm', 'start']);
  if (pkg.main) return JSON.stringify(['node', pkg.main]);
  if (exists(dir, 'index.js')) return JSON.stringify(['node', 'index.js']);
  throw new PresetError(
    'package.json has no "start" script or "main", and there is no index.js; add one or set runCommand',
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
): GeneratedBuild {
  const user = `USER ${RUNTIME_UID}`;
  const version = configs.buildPackLangVersion;
  const port = Number(configs.port ?? 8080);
  switch (preset) {
    case 'nodejs': {
      if (!exists(dir, 'package.json'))
        throw new PresetError('the nodejs preset needs a package.json in the component directory');
      const { copy, install } = nodeInstall(dir);
      return {
        port,
        dockerfile: [
          `FROM ${baseImage(images, 'node', version)}`,
          'WORKDIR /app',
          'ENV NODE_ENV=production',
          // npm writes its cache and logs under HOME; the runtime user has none of its own.
          'ENV HOME=/tmp NPM_CONFIG_CACHE=/tmp/.npm',
          `COPY ${copy} ./`,
          `RUN ${CA} ${TMPFS} ${install}`,
          'COPY . .',
          user,
          `CMD ${nodeStart(dir, configs.runCommand)}`,
        ].join('\n'),
      };
    }
    case 'python': {
      if (!configs.runCommand)
        throw new PresetError(
          'the python preset needs runCommand (for example: python3 app.py), as in Choreo',
        );
      const deps = exists(dir, 'requirements.txt')
        ? ['COPY requirements.txt ./', `RUN ${CA} pip install --no-cache-dir -r requirements.txt`]
        : exists(dir, 'pyproject.toml')
          ? ['COPY pyproject.toml ./', `RUN ${CA} pip install --no-cache-dir .`]
          : [];
      return {
        port,
        dockerfile: [
          `FROM ${baseImage(images, 'python', version)}`,
          'WORKDIR /app',
          ...deps,
          'COPY . .',
          user,
          `CMD ${shellCmd(configs.runCommand)}`,
        ].join('\n'),
      };
    }
    case 'go': {
      if (!exists(dir, 'go.mod'))
        throw new PresetError('the go preset needs a go.mod in the component directory');
      return {
        port,
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
          configs.runCommand ? `CMD ${shellCmd(configs.runCommand)}` : 'ENTRYPOINT ["/app"]',
        ].join('\n'),
      };
    }
    case 'php':
      return {
        port,
        dockerfile: [
          `FROM ${baseImage(images, 'php', version)}`,
          'WORKDIR /app',
          ...(exists(dir, 'composer.json')
            ? ['COPY composer.json composer.lock* ./', `RUN ${CA} composer install --no-dev --no-interaction`]
            : []),
          'COPY . .',
          user,
          `CMD ${configs.runCommand ? shellCmd(configs.runCommand) : JSON.stringify(['php', '-S', `0.0.0.0:${port}`, '-t', '/app'])}`,
        ].join('\n'),
      };
    case 'ruby': {
      if (!configs.runCommand)
        throw new PresetError('the ruby preset needs runCommand (for example: ruby app.rb)');
      return {
        port,
        dockerfile: [
          `FROM ${baseImage(images, 'ruby', version)}`,
          'WORKDIR /app',
          ...(exists(dir, 'Gemfile') ? ['COPY Gemfile Gemfile.lock* ./', `RUN ${CA} bundle install`] : []),
          'COPY . .',
          user,
          `CMD ${shellCmd(configs.runCommand)}`,
        ].join('\n'),
      };
    }
    case 'java': {
      const maven = exists(dir, 'pom.xml');
      if (!maven && !exists(dir, 'build.gradle') && !exists(dir, 'build.gradle.kts'))
        throw new PresetError('the java preset needs a pom.xml or a build.gradle');
      return {
        port,
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
          `CMD ${configs.runCommand ? shellCmd(configs.runCommand) : JSON.stringify(['java', '-jar', '/app/app.jar'])}`,
        ].join('\n'),
      };
    }
    case 'dotnet':
      return {
        port,
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
          `CMD ${configs.runCommand ? shellCmd(configs.runCommand) : JSON.stringify(['dotnet', `${configs.assemblyName ?? 'app'}.dll`])}`,
        ].join('\n'),
      };
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
