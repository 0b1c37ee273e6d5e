import type { Selectable, Transaction } from 'kysely';
import { isUniqueViolation, newId } from '../control/ids.js';
import type { ConfigItem } from '../domain/configuration.js';
import { collisions } from '../domain/configuration.js';
import type { DeploymentAction, DeploymentSpec, ReleaseSpec } from '../domain/deployment-spec.js';
import { invalid, RondoError } from '../domain/errors.js';
import { limitsOrNothing, type ResourceLimits } from '../domain/resource-limits.js';
import type { TaskSpec } from '../domain/task.js';
import type { Database, ReleasesTable } from '../store/schema.js';
import type { Executor } from '../store/store.js';

export type ReleaseRow = Selectable<ReleasesTable>;

/** `YYYYMMDD` in UTC. */
export function releaseDay(now: Date): string {
  return now.toISOString().slice(0, 10).replaceAll('-', '');
}

/**
 * The release for (image, component-scope config revision) of a component, created on first use
 * (§1: created on first deploy; the same release is promoted). Named `YYYYMMDD-N`, N counting the
 * component's releases of that day.
 */
export async function findOrCreateRelease(
  tx: Transaction<Database>,
  r: {
    orgId: string;
    componentId: string;
    buildId: string | null;
    image: string;
    commit: string | null;
    spec: ReleaseSpec;
    config: ConfigItem[];
    configRevision: number;
    createdBy: string;
    now: Date;
  },
): Promise<ReleaseRow> {
  const existing = await tx
    .selectFrom('releases')
    .selectAll()
    .where('component_id', '=', r.componentId)
    .where('image', '=', r.image)
    .where('config_revision', '=', r.configRevision)
    .orderBy('created_at', 'desc')
    .executeTakeFirst();
  if (existing) return existing;
  const day = releaseDay(r.now);
  const { n } = await tx
    .selectFrom('releases')
    .select((eb) => eb.fn.countAll<string>().as('n'))
    .where('component_id', '=', r.componentId)
    .where('name', 'like', `${day}-%`)
    .executeTakeFirstOrThrow();
  return tx
    .insertInto('releases')
    .values({
      id: newId('rel'),
      org_id: r.orgId,
      component_id: r.componentId,
      name: `${day}-${Number(n) + 1}`,
      build_id: r.buildId,
      image: r.image,
      commit: r.commit,
      spec: JSON.stringify(r.spec),
      config: JSON.stringify(r.config),
      config_revision: r.configRevision,
      created_by: r.createdBy,
    })
    .returningAll()
    .executeTakeFirstOrThrow();
}

/** Joins a mount path and a file name from a descriptor's file declaration. */
function declaredPath(mountPath: string, name: string): string {
  return `${mountPath.replace(/\/+$/, '')}/${name}`;
}

/**
 * Choreo's configurable check for every preset (§5): each required configuration the release
 * declares must have a value in the target environment; otherwise nothing starts and the error
 * lists every missing name with its environment. Colliding file mounts are refused too.
 */
export function checkConfiguration(
  release: ReleaseRow,
  config: readonly ConfigItem[],
  environment: string,
): void {
  const keys = new Set(config.map((c) => c.key));
  const spec = release.spec;
  const missing = (spec.configurations ?? [])
    .filter((d) => d.required)
    .map((d) => (d.kind === 'env' ? d.name : declaredPath(d.mountPath ?? '/', d.name)))
    .filter((key) => !keys.has(key));
  if (missing.length) {
    throw new RondoError(
      'RONDO_ERR_CONFIG_MISSING',
      `release ${release.name} needs configuration that ${environment} does not have: ${missing.map((m) => `${m} (${environment})`).join(', ')}; set each with \`rondo config set\` or \`rondo secret set\` --env ${environment}`,
      {
        fields: missing.map((m) => ({
          field: `configurations.${m}`,
          message: `required in ${environment}; no value is set`,
        })),
      },
    );
  }
  const clash = collisions([...keys], 'configurations');
  if (clash.length) throw invalid(clash);
}

export interface NewDeployment {
  orgId: string;
  componentId: string;
  environmentId: string;
  release: ReleaseRow;
  config: ConfigItem[];
  configRevision: number;
  replicas: number;
  action: DeploymentAction;
  sourceId: string | null;
  createdBy: string;
  /** Set for task components (see src/tasks/task-spec.ts). */
  task?: TaskSpec | undefined;
  resources?: ResourceLimits | undefined;
}

/**
 * Records a `pending` deployment named `<release>.<configRevision>.<deployCount>` (§1), the count
 * numbering this release's deployments in this environment. A rollout already running for the
 * same (component, environment) makes this a 409.
 */
export async function insertDeployment(tx: Executor, d: NewDeployment): Promise<string> {
  const { n } = await tx
    .selectFrom('deployments')
    .select((eb) => eb.fn.countAll<string>().as('n'))
    .where('release_id', '=', d.release.id)
    .where('environment_id', '=', d.environmentId)
    .executeTakeFirstOrThrow();
  const releaseSpec = d.release.spec;
  const replicas = d.task ? 0 : d.replicas;
  const resources = limitsOrNothing(d.resources);
  const spec: DeploymentSpec = {
    image: d.release.image,
    replicas,
    endpoints: d.task ? [] : releaseSpec.endpoints,
    env: {},
    config: d.config,
    ...(resources ? { resources } : {}),
    ...(d.task ? { task: d.task } : {}),
  };
  const id = newId('dep');
  try {
    await tx
      .insertInto('deployments')
      .values({
        id,
        org_id: d.orgId,
        component_id: d.componentId,
        environment_id: d.environmentId,
        status: 'pending',
        image: d.release.image,
        replicas,
        spec: JSON.stringify(spec),
        created_by: d.createdBy,
        release_id: d.release.id,
        name: `${d.release.name}.${d.configRevision}.${Number(n) + 1}`,
        config_revision: d.configRevision,
        action: d.action,
        source_id: d.sourceId,
      })
      .execute();
  } catch (err) {
    if (!isUniqueViolation(err)) throw err;
    throw new RondoError(
      'RONDO_ERR_CONFLICT_IN_PROGRESS',
      'a rollout of this component to this environment is already in progress; wait for it (rondo describe component) and try again',
    );
  }
  return id;
}
