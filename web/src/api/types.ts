import type { paths } from './schema';

type Json<T> = T extends { content: { 'application/json': infer B } } ? B : never;

export type Component = Json<
  paths['/api/v1/orgs/{org}/projects/{project}/components/{component}']['get']['responses']['200']
>;
export type ComponentInput = Json<
  paths['/api/v1/orgs/{org}/projects/{project}/components']['post']['requestBody']
>;
export type Build = Json<paths['/api/v1/orgs/{org}/builds/{id}']['get']['responses']['200']>;
export type EnvironmentStatus = Json<
  paths['/api/v1/orgs/{org}/projects/{project}/components/{component}/status']['get']['responses']['200']
>['items'][number];
export type Deployment = NonNullable<EnvironmentStatus['active']>;
export type Execution = Json<paths['/api/v1/orgs/{org}/executions/{id}']['get']['responses']['200']>;
export type ProjectHealth = Json<
  paths['/api/v1/orgs/{org}/health']['get']['responses']['200']
>['items'][number];
export type ApprovalRequest = Json<paths['/api/v1/orgs/{org}/approvals/{id}']['get']['responses']['200']>;

// The choices the create form offers; the API's types check each one (not that none is missing).
export const COMPONENT_TYPES = [
  'service',
  'web-app',
  'scheduled-task',
  'manual-task',
  'webhook',
] as const satisfies readonly ComponentInput['type'][];
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
] as const satisfies readonly NonNullable<ComponentInput['buildPreset']>[];

type Preset = (typeof BUILD_PRESETS)[number];
const LANGUAGE = ['buildPackLangVersion', 'runCommand', 'port'];
const SPA = ['buildCommand', 'outputDirectory', 'nodeVersion'];

/** The build configs each preset takes (the API checks values and which are required). */
export const PRESET_CONFIG_KEYS: Record<Preset, string[]> = {
  dockerfile: ['dockerFilePath', 'dockerContext', 'port'],
  nodejs: LANGUAGE,
  python: LANGUAGE,
  go: LANGUAGE,
  java: LANGUAGE,
  php: LANGUAGE,
  ruby: LANGUAGE,
  dotnet: LANGUAGE,
  static: [],
  react: SPA,
  angular: SPA,
  vue: SPA,
};
