import type {
  Component,
  DataPlane,
  Deployment,
  Environment,
  Pipeline,
  Project,
} from '../../domain/resources.js';
import type { Column } from '../output.js';
import { statusFields } from './data-plane-status.js';

/** Table columns and `describe` fields per resource; JSON/YAML print the API shape as is. */
export const projectColumns: Column<Project>[] = [
  { header: 'name', value: (p) => p.name },
  { header: 'pipeline', value: (p) => p.pipeline },
  { header: 'display name', value: (p) => p.displayName },
  { header: 'created', value: (p) => p.createdAt },
];

export function sourceText(c: Component): string {
  return c.source.kind === 'image'
    ? c.source.image
    : `${c.source.repoUrl}#${c.source.branch}:${c.source.path}`;
}

export const componentColumns: Column<Component>[] = [
  { header: 'name', value: (c) => c.name },
  { header: 'project', value: (c) => c.project },
  { header: 'type', value: (c) => c.type },
  { header: 'preset', value: (c) => c.buildPreset ?? '-' },
  { header: 'source', value: sourceText },
];

export const environmentColumns: Column<Environment>[] = [
  { header: 'name', value: (e) => e.name },
  { header: 'production', value: (e) => String(e.production) },
  { header: 'data plane', value: (e) => e.dataPlane },
  { header: 'display name', value: (e) => e.displayName },
];

export const pipelineColumns: Column<Pipeline>[] = [
  { header: 'name', value: (p) => p.name },
  { header: 'environments', value: (p) => p.environments.join(' → ') },
  { header: 'default', value: (p) => String(p.isDefault) },
];

export function projectFields(p: Project): [string, string][] {
  return [
    ['Name', p.name],
    ['Display name', p.displayName],
    ['Description', p.description || '-'],
    ['Pipeline', p.pipeline],
    ['Id', p.id],
    ['Created', p.createdAt],
  ];
}

export function componentFields(c: Component): [string, string][] {
  const configs = Object.entries(c.buildConfigs)
    .map(([k, v]) => `${k}=${v}`)
    .join(', ');
  return [
    ['Name', c.name],
    ['Project', c.project],
    ['Type', c.type],
    ['Source', sourceText(c)],
    ['Build preset', c.buildPreset ?? '-'],
    ['Build configs', configs || '-'],
    ['Auto build', String(c.autoBuild)],
    ['Auto deploy', String(c.autoDeploy)],
    [
      'Endpoints',
      c.endpoints
        .map((e) => `${e.name} ${e.type} :${e.port}${e.basePath} (${e.visibility.join(', ')})`)
        .join('; ') || '-',
    ],
    ['Id', c.id],
    ['Created', c.createdAt],
  ];
}

export function environmentFields(e: Environment): [string, string][] {
  return [
    ['Name', e.name],
    ['Display name', e.displayName],
    ['Production', String(e.production)],
    ['Data plane', e.dataPlane],
    ['Id', e.id],
  ];
}

/** `describe dataplane`: where it is (a cluster's server and context, or an engine's socket) and who uses it. */
/** Where a cluster pulls the platform registry's images, and whether it has pull credentials. */
function registryText(r: unknown): string {
  if (typeof r !== 'object' || r === null) return 'the address builds push to (default)';
  const { address, credentials } = r as { address?: unknown; credentials?: unknown };
  if (typeof address !== 'string') return '-';
  return credentials ? `${address} (pull credentials stored encrypted)` : address;
}

export function dataPlaneFields(d: DataPlane): [string, string][] {
  const text = (v: unknown, otherwise: string) => (typeof v === 'string' && v !== '' ? v : otherwise);
  const where: [string, string][] =
    d.type === 'kubernetes'
      ? [
          ['Server', text(d.config.server, '-')],
          ['Context', text(d.config.context, '-')],
          ['Credentials', text(d.config.credentials, '-')],
          ['Registry', registryText(d.config.registry)],
        ]
      : [['Socket', text(d.config.socketPath, 'the local engine (default)')]];
  return [
    ['Name', d.name],
    ['Type', d.type],
    ...where,
    ['Created', d.createdAt],
    ['Environments', d.environments.length > 0 ? d.environments.join(', ') : '-'],
    ['Id', d.id],
    ...statusFields(d.status),
  ];
}

type Condition = Deployment['conditions'][number];

export function deploymentFields(d: Deployment): [string, string][] {
  return [
    ['id', d.id],
    ['name', d.name ?? '-'],
    ['component', `${d.project}/${d.component}`],
    ['environment', d.environment],
    ['image', d.image],
    ['replicas', String(d.replicas)],
    ['status', d.status],
    ['phase', d.phase],
    ['reason', d.reason ?? '-'],
    ['created', `${d.createdAt} by ${d.createdBy ?? '-'}`],
  ];
}

/** `describe deployment`'s conditions, as `kubectl describe` shows them. */
export const conditionColumns: Column<Condition>[] = [
  { header: 'type', value: (c) => c.type },
  { header: 'status', value: (c) => c.status },
  { header: 'reason', value: (c) => c.reason },
  { header: 'since', value: (c) => c.lastTransitionTime },
  { header: 'message', value: (c) => c.message.split('\n')[0] ?? '' },
];
