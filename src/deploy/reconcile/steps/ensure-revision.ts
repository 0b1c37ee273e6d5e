import { materialize } from '../../../configuration/materialize.js';
import type { RevisionSpec } from '../../../dataplane/driver.js';
import { LABEL } from '../../../dataplane/labels.js';
import { recordingCondition } from '../../deployment-conditions.js';
import { replicaNames } from '../../targets.js';
import { CONTINUE, type ReconcileContext, type Step, targetOf } from '../deps.js';
import { shouldRemove } from '../removal.js';
import { observed, ownersOf, readinessProbe, revisionLabels } from '../replicas.js';
import { setDeploymentConditions, transition } from '../status.js';

/**
 * Every replica the deployment wants exists: the rollout is recorded as started, the image is
 * pinned (a moved tag never changes what runs), stopped replicas of a serving deployment are
 * replaced, and missing ones are started. A rolling-out deployment's stopped replica is kept for
 * await-ready to report why it stopped.
 */
export const ensureRevision: Step = {
  name: 'ensure-revision',
  async run(ctx) {
    const t = targetOf(ctx);
    if (!t) return CONTINUE;
    const { deps, dp } = ctx;
    const pin = async () => {
      const imageId = await dp.revisions.pin(t.spec.image).catch(async (err: unknown) => {
        const message = err instanceof Error ? err.message : String(err);
        await setDeploymentConditions(deps.store.db, t.id, [
          { type: 'ImagePinned', status: 'False', reason: 'PullFailed', message },
        ]).catch(() => undefined);
        return recordingCondition(deps.store, t.id, 'image-pull-failed')(err);
      });
      const pinned = {
        type: 'ImagePinned',
        status: 'True',
        reason: 'Pinned',
        message: `${t.spec.image} is ${imageId}`,
      } as const;
      return { spec: { ...t.spec, imageId }, pinned };
    };
    if (t === ctx.next && t.status === 'pending') {
      // The image is pinned first, so the rollout's start and its pin are one write.
      const p = t.spec.imageId ? undefined : await pin();
      await transition(deps.store.db, t.id, {
        from: ['Pending'],
        to: 'Progressing',
        reason: null,
        conditions: [
          { type: 'Progressing', status: 'True', reason: 'RolloutStarted', message: 'starting replicas' },
          { type: 'Ready', status: 'False', reason: 'RolloutInProgress' },
          ...(p ? [p.pinned] : []),
        ],
        ...(p ? { spec: p.spec } : {}),
      });
      t.status = 'rolling-out';
      if (p) t.spec = p.spec;
    }
    if (!t.spec.imageId) {
      const p = await pin();
      await deps.store.db
        .updateTable('deployments')
        .set({ spec: JSON.stringify(p.spec) })
        .where('id', '=', t.id)
        .execute();
      await setDeploymentConditions(deps.store.db, t.id, [p.pinned]);
      t.spec = p.spec;
    }
    const spec = t.spec;
    const owners = ownersOf(ctx);
    const stopped = ctx.workloads.filter(
      (w) => w.labels[LABEL.deployment] === t.id && shouldRemove(w, owners),
    );
    await Promise.all(stopped.map((w) => dp.revisions.remove(w.id, 1)));
    for (const w of stopped) observed(ctx, w.id, undefined);
    const present = new Set(
      ctx.workloads.filter((w) => w.labels[LABEL.deployment] === t.id).map((w) => w.labels[LABEL.replica]),
    );
    const missing = [...Array(spec.replicas).keys()].filter((i) => !present.has(String(i)));
    if (missing.length === 0) return CONTINUE;
    if (t === ctx.active) {
      ctx.log.info({ deployment: t.id, missing: missing.length }, 'bringing replicas back');
      await setDeploymentConditions(deps.store.db, t.id, [
        {
          type: 'Degraded',
          status: 'True',
          reason: 'ReplicasMissing',
          message: `${spec.replicas - missing.length} of ${spec.replicas} replicas running; starting ${missing.length}`,
        },
      ]);
    }
    await startReplicas(ctx, missing);
    return CONTINUE;
  },
};

async function startReplicas(ctx: ReconcileContext, indexes: number[]): Promise<void> {
  const t = targetOf(ctx);
  const environment = ctx.environment;
  if (!t || !environment) throw new Error('ensure-revision runs after ensure-environment');
  const { deps, dp } = ctx;
  const spec = t.spec;
  const config = await materialize(deps.store.db, deps.keyring, spec.config ?? []).catch(
    recordingCondition(
      deps.store,
      t.id,
      'config-error',
      (r) => `the configuration could not be prepared: ${r}`,
    ),
  );
  const readiness = readinessProbe(spec);
  const revision: RevisionSpec = {
    environment,
    labels: revisionLabels(deps.instance, t),
    name: `rondo-${deps.instance}.${t.org}.${t.project}.${t.component}.${t.environment}.${t.id.slice(-8)}`,
    image: spec.imageId ?? spec.image,
    replicas: spec.replicas,
    env: { ...spec.env, ...config.env },
    files: config.files,
    ports: spec.endpoints.map((e) => e.port),
    ...(spec.resources ? { resources: spec.resources } : {}),
    ...(readiness ? { readiness } : {}),
    names: replicaNames(t),
    ...(t.gateway_slot === null
      ? {}
      : { organizationGatewayPort: deps.settings.internalPortBase + t.gateway_slot }),
  };
  for (const i of indexes) {
    const started = await dp.revisions
      .start(revision, [i])
      .catch(
        recordingCondition(deps.store, t.id, 'start-failed', (r) => `replica ${i} could not start: ${r}`),
      );
    for (const w of started) observed(ctx, w.id, w);
  }
}
