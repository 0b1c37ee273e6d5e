import type { ControlDeps, RequestContext } from '../control/context.js';
import { readInOrg } from '../control/org-access.js';
import type { DeploymentSpec, ReleaseSpec } from '../domain/deployment-spec.js';
import { invalid, notFound } from '../domain/errors.js';
import type { Deployment } from '../domain/resources.js';
import { pendingChanges } from './component-status.js';
import { deploymentsOf, toDeployment } from './deploy-queries.js';

export interface DeploymentComparison {
  from: Deployment;
  to: Deployment;
  release: boolean;
  image: boolean;
  commit: boolean;
  replicas: boolean;
  /** Memory or CPU limits. */
  resources: boolean;
  endpoints: boolean;
  /** Configuration keys (never values): added, changed (another stored value) and removed from `from` to `to`. */
  config: { added: string[]; changed: string[]; removed: string[] };
  /** The release's descriptor (the component spec at the build's commit): declared configurations and endpoints. */
  descriptor: { changed: boolean; declaredAdded: string[]; declaredRemoved: string[] };
}

/**
 * What changed from one deployment of a component to another (any two, any environments): release,
 * image, commit, replicas, resource limits, endpoints, the frozen configuration's keys, and the release's
 * descriptor (declared configurations). Values are not compared
 * by content (they are encrypted per value); a key whose frozen value is another stored value
 * counts as changed.
 */
export async function compareDeployments(
  deps: ControlDeps,
  ctx: RequestContext,
  orgName: string,
  fromId: string,
  toId: string,
): Promise<DeploymentComparison> {
  const { org } = await readInOrg(deps, ctx, orgName);
  const rows = await deploymentsOf(deps.store.db, org.id).where('d.id', 'in', [fromId, toId]).execute();
  const from = rows.find((r) => r.id === fromId);
  const to = rows.find((r) => r.id === toId);
  if (!from) throw notFound('deployment', fromId);
  if (!to) throw notFound('deployment', toId);
  if (from.component_id !== to.component_id)
    throw invalid([
      {
        field: 'with',
        message: `${toId} is a deployment of ${to.project}/${to.component}, not of ${from.project}/${from.component}; compare two deployments of one component`,
      },
    ]);
  const releases = await deps.store.db
    .selectFrom('releases')
    .select(['id', 'spec'])
    .where('org_id', '=', org.id)
    .where('id', 'in', [from.release_id ?? '', to.release_id ?? ''])
    .execute();
  const descriptorOf = (id: string | null) =>
    (releases.find((r) => r.id === id)?.spec ?? {}) as Partial<ReleaseSpec>;
  const da = descriptorOf(from.release_id);
  const db = descriptorOf(to.release_id);
  const declared = (d: Partial<ReleaseSpec>) => new Set((d.configurations ?? []).map((c) => c.name));
  const [na, nb] = [declared(da), declared(db)];
  const a = (from.spec ?? {}) as Partial<DeploymentSpec>;
  const b = (to.spec ?? {}) as Partial<DeploymentSpec>;
  const fromView = toDeployment(from);
  const toView = toDeployment(to);
  return {
    from: fromView,
    to: toView,
    release: fromView.release !== toView.release,
    image: fromView.image !== toView.image,
    commit: fromView.commit !== toView.commit,
    replicas: fromView.replicas !== toView.replicas,
    resources: JSON.stringify(a.resources ?? {}) !== JSON.stringify(b.resources ?? {}),
    endpoints: JSON.stringify(a.endpoints ?? []) !== JSON.stringify(b.endpoints ?? []),
    config: pendingChanges(b.config ?? [], a.config ?? []),
    descriptor: {
      changed: JSON.stringify(da) !== JSON.stringify(db),
      declaredAdded: [...nb].filter((n) => !na.has(n)),
      declaredRemoved: [...na].filter((n) => !nb.has(n)),
    },
  };
}
