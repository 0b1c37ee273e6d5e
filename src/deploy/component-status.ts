import { COMPONENT_SCOPE, draftItems, mergeConfig } from '../configuration/config-entries.js';
import type { RequestContext } from '../control/context.js';
import { findComponent } from '../control/lookups.js';
import { readInOrg } from '../control/org-access.js';
import { LABEL } from '../dataplane/labels.js';
import type { ConfigItem } from '../domain/configuration.js';
import type { EnvironmentStatus } from '../domain/resources.js';
import { deploymentsOf, toDeployment } from './deploy-queries.js';
import type { DeployDeps } from './deployments.js';
import { isServing } from './gateway-sync.js';
import { endpointUrls } from './urls.js';

/** What deploying now would change in the configuration an environment runs (the Railway convention). */
export function pendingChanges(draft: readonly ConfigItem[], running: readonly ConfigItem[]) {
  const now = new Map(running.map((i) => [i.key, i.valueId]));
  const next = new Map(draft.map((i) => [i.key, i.valueId]));
  return {
    added: [...next.keys()].filter((k) => !now.has(k)),
    changed: [...next.keys()].filter((k) => now.has(k) && now.get(k) !== next.get(k)),
    removed: [...now.keys()].filter((k) => !next.has(k)),
  };
}

/** Per environment of the project's pipeline: the active and latest deployments, replicas, URLs. */
export async function componentStatus(
  deps: DeployDeps,
  ctx: RequestContext,
  orgName: string,
  project: string,
  componentName: string,
): Promise<EnvironmentStatus[]> {
  const { org } = await readInOrg(deps, ctx, orgName);
  const component = await findComponent(deps.store.db, org.id, project, componentName);
  const pipeline = await deps.store.db
    .selectFrom('pipelines')
    .select('environment_ids')
    .where('id', '=', component.pipeline_id)
    .executeTakeFirstOrThrow();
  const envs = await deps.store.db
    .selectFrom('environments as e')
    .innerJoin('data_planes as dp', 'dp.id', 'e.data_plane_id')
    .select([
      'e.id',
      'e.name',
      'e.gateway_slot',
      'dp.id as dp_id',
      'dp.type as dp_type',
      'dp.config as dp_config',
    ])
    .where('e.org_id', '=', org.id)
    .execute();
  const order = (id: string) => {
    const i = pipeline.environment_ids.indexOf(id);
    return i === -1 ? Number.MAX_SAFE_INTEGER : i;
  };
  envs.sort((a, b) => order(a.id) - order(b.id) || a.name.localeCompare(b.name));
  const deployments = await deploymentsOf(deps.store.db, org.id)
    .where('d.component_id', '=', component.id)
    .orderBy('d.created_at', 'desc')
    .execute();
  const draftComponent = await draftItems(deps.store.db, component.id, COMPONENT_SCOPE);
  const out: EnvironmentStatus[] = [];
  for (const env of envs) {
    const mine = deployments.filter((d) => d.environment_id === env.id);
    const active = mine.find((d) => d.status === 'active');
    const latest = mine[0];
    let running = 0;
    let restarts = 0;
    // A data plane without a driver right now shows nothing running rather than failing the page.
    const dp = active && deps.dataPlanes.tryFor({ id: env.dp_id, type: env.dp_type, config: env.dp_config });
    if (active && dp) {
      const workloads = await dp.revisions
        .list({ [LABEL.instance]: deps.instance, [LABEL.deployment]: active.id })
        .catch(() => []);
      running = workloads.filter(isServing).length;
      const inspected = await Promise.all(
        workloads.map((w) => dp.revisions.inspect(w.id).catch(() => undefined)),
      );
      restarts = inspected.reduce((n, w) => n + (w?.restartCount ?? 0), 0);
    }
    // The active deployment's events and a later one's (why a rollout failed while the old one serves).
    const about = [...new Set([active?.id, latest?.id].filter((id): id is string => id !== undefined))];
    const events = about.length
      ? await deps.store.db
          .selectFrom('deployment_events')
          .select(['deployment_id', 'kind', 'message', 'created_at'])
          .where('deployment_id', 'in', about)
          .orderBy('id', 'desc')
          .limit(10)
          .execute()
      : [];
    // Restarts by the engine (crashes) and by Rondo (liveness) both count.
    if (active) {
      const liveness = await deps.store.db
        .selectFrom('deployment_events')
        .select((eb) => eb.fn.countAll<string>().as('n'))
        .where('deployment_id', '=', active.id)
        .where('kind', '=', 'liveness-restart')
        .executeTakeFirstOrThrow();
      restarts += Number(liveness.n);
    }
    const activeView = active ? toDeployment(active) : null;
    const draft = mergeConfig(draftComponent, await draftItems(deps.store.db, component.id, env.id));
    out.push({
      environment: env.name,
      active: activeView,
      latest: latest ? toDeployment(latest) : null,
      replicas: { desired: activeView?.replicas ?? 0, running, restarts },
      events: events.map((e) => ({
        kind: e.kind,
        message: e.message,
        createdAt: e.created_at.toISOString(),
        deployment: mine.find((d) => d.id === e.deployment_id)?.name ?? e.deployment_id,
      })),
      pendingConfig: pendingChanges(draft, active ? (active.spec.config ?? []) : draft),
      urls: activeView
        ? endpointUrls(
            deps.urls,
            {
              org: org.name,
              project,
              component: componentName,
              componentType: component.type,
              environment: env.name,
              gatewaySlot: env.gateway_slot,
            },
            activeView.endpoints,
          )
        : [],
    });
  }
  return out;
}
