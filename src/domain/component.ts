import type { FieldError } from './errors.js';
import { checkImageReference } from './image-reference.js';
import { checkGitRef, checkRelativePath, checkRepoUrl } from './source.js';
import { hasControlCharacters } from './text.js';

/** Component types (§3), with Choreo's spellings accepted as aliases. */
export const COMPONENT_TYPES = ['service', 'web-app', 'scheduled-task', 'manual-task', 'webhook'] as const;
export type ComponentType = (typeof COMPONENT_TYPES)[number];

// A Map, not an object literal: the input is the client's, and `toString` or `__proto__` must
// not find Object.prototype's members.
const TYPE_ALIASES: ReadonlyMap<string, ComponentType> = new Map([
  ['webApp', 'web-app'],
  ['scheduleTask', 'scheduled-task'],
  ['scheduledTask', 'scheduled-task'],
  ['manualTask', 'manual-task'],
]);

export function canonicalComponentType(input: string): ComponentType | undefined {
  if ((COMPONENT_TYPES as readonly string[]).includes(input)) return input as ComponentType;
  return TYPE_ALIASES.get(input);
}

export const BUILD_PRESETS = [
  'dockerfile',
  'nodejs',
  'python',
  'go',
  'java',
  'php',
  'ruby',
  'dotnet',
  'static',
  'react',
  'angular',
  'vue',
] as const;
export type BuildPreset = (typeof BUILD_PRESETS)[number];

type ConfigCheck = (value: string) => string | undefined;

const version: ConfigCheck = (v) =>
  /^[0-9]{1,4}(\.[0-9x]{1,4}){0,2}$/.test(v) ? undefined : 'must be a version such as 20 or 3.11';
const port: ConfigCheck = (v) => {
  const n = Number(v);
  return /^[0-9]{1,5}$/.test(v) && n >= 1 && n <= 65535 ? undefined : 'must be a port number 1-65535';
};
const path: ConfigCheck = (v) => checkRelativePath(v);
// Commands are data handed to the container as one argument, never interpolated into a shell on
// the host; we still refuse control characters so logs and descriptors stay one line.
const command: ConfigCheck = (v) => {
  if (v.length === 0) return 'must not be empty';
  if (v.length > 1000) return 'must be at most 1000 characters';
  return hasControlCharacters(v) ? 'must not contain newlines or control characters' : undefined;
};

interface ConfigSpec {
  check: ConfigCheck;
  /** Required for these component types ('*' for all). */
  requiredFor?: readonly (ComponentType | '*')[];
}

const languageConfigs: Record<string, ConfigSpec> = {
  buildPackLangVersion: { check: version },
  runCommand: { check: command },
  port: { check: port, requiredFor: ['web-app'] },
};
const spaConfigs: Record<string, ConfigSpec> = {
  buildCommand: { check: command },
  outputDirectory: { check: path },
  nodeVersion: { check: version },
};

/**
 * The build configs each preset accepts (Choreo's FAQ table, `reference/seeds/003`). Defaults
 * for optional keys are applied by the build (docs/components.md lists them).
 */
export const PRESET_CONFIGS: Record<BuildPreset, Record<string, ConfigSpec>> = {
  dockerfile: {
    dockerFilePath: { check: path, requiredFor: ['*'] },
    dockerContext: { check: path },
    port: { check: port, requiredFor: ['web-app'] },
  },
  nodejs: languageConfigs,
  python: languageConfigs,
  go: languageConfigs,
  java: languageConfigs,
  php: languageConfigs,
  ruby: languageConfigs,
  dotnet: languageConfigs,
  static: {},
  react: spaConfigs,
  angular: spaConfigs,
  vue: spaConfigs,
};

const SPA_PRESETS: readonly BuildPreset[] = ['static', 'react', 'angular', 'vue'];

/** Checks build configs against the preset and the component type; returns every problem found. */
export function checkBuildConfigs(
  preset: BuildPreset,
  type: ComponentType,
  configs: Record<string, string>,
): FieldError[] {
  const specs = PRESET_CONFIGS[preset];
  const allowed = Object.keys(specs);
  const errors: FieldError[] = [];
  for (const [key, value] of Object.entries(configs)) {
    // Own keys only: a config named `constructor` is not Object.prototype's.
    const spec = Object.hasOwn(specs, key) ? specs[key] : undefined;
    if (!spec) {
      const hint = allowed.length ? `accepted keys: ${allowed.join(', ')}` : 'it takes no build configs';
      errors.push({
        field: `buildConfigs.${key}`,
        message: `is not a build config of preset '${preset}' (${hint})`,
      });
      continue;
    }
    const problem = spec.check(value);
    if (problem) errors.push({ field: `buildConfigs.${key}`, message: problem });
  }
  for (const [key, spec] of Object.entries(specs)) {
    const required = spec.requiredFor?.includes('*') || spec.requiredFor?.includes(type);
    if (required && configs[key] === undefined) {
      errors.push({
        field: `buildConfigs.${key}`,
        message: `is required for preset '${preset}' and type '${type}'`,
      });
    }
  }
  if (SPA_PRESETS.includes(preset) && type !== 'web-app') {
    errors.push({ field: 'buildPreset', message: `preset '${preset}' builds a web app; use --type web-app` });
  }
  return errors;
}

/** Where a component's image comes from: a directory of a Git repository, or an existing image. */
export type ComponentSource =
  | { kind: 'git'; repoUrl: string; branch: string; path: string }
  | { kind: 'image'; image: string };

/** Checks a component's source and build settings together; returns every problem found. */
export function checkComponentSource(input: {
  type: ComponentType;
  source: ComponentSource;
  buildPreset: BuildPreset | null;
  buildConfigs: Record<string, string>;
}): FieldError[] {
  const { source, buildPreset, type } = input;
  const errors: FieldError[] = [];
  if (source.kind === 'image') {
    const problem = checkImageReference(source.image);
    if (problem) errors.push({ field: 'source.image', message: problem });
    if (buildPreset !== null) {
      errors.push({
        field: 'buildPreset',
        message: 'an image component is not built; leave buildPreset out',
      });
    }
    if (Object.keys(input.buildConfigs).length > 0) {
      errors.push({
        field: 'buildConfigs',
        message: 'an image component is not built; leave buildConfigs out',
      });
    }
    return errors;
  }
  const urlProblem = checkRepoUrl(source.repoUrl);
  if (urlProblem) errors.push({ field: 'source.repoUrl', message: urlProblem });
  const refProblem = checkGitRef(source.branch);
  if (refProblem) errors.push({ field: 'source.branch', message: refProblem });
  const pathProblem = checkRelativePath(source.path);
  if (pathProblem) errors.push({ field: 'source.path', message: pathProblem });
  if (buildPreset === null) {
    errors.push({
      field: 'buildPreset',
      message: `is required for a Git component (one of ${BUILD_PRESETS.join(', ')})`,
    });
  } else {
    errors.push(...checkBuildConfigs(buildPreset, type, input.buildConfigs));
  }
  return errors;
}
