import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import { materialize, redact } from '../configuration/materialize.js';
import type { DataPlane, NetworkInfo, WorkloadInfo } from '../dataplane/data-plane.js';
import { isExecution, LABEL, networkLabels, networkName } from '../dataplane/labels.js';
import { storableText } from '../domain/storable-text.js';
import { recordDeploymentCondition, recordingCondition } from '../observability/deployment-conditions.js';
import type { Keyring } from '../secrets/envelope.js';
import type { Store } from '../store/store.js';
import type { DataPlaneRegistry } from './data-plane-registry.js';
import type { DeploymentSpec } from './deployment-spec.js';
import type { GatewaySync } from './gateway-sync.js';
import { type Probe, runProbe } from './probes.js';
import { type DeploymentTarget, deploymentTargets, replicaNames } from './targets.js';

export interface RolloutSettings {
  readinessTimeoutMs: number;
  /** How long old replicas keep their in-flight requests after the gateway has switched. */
  drainMs: number;
  /** SIGTERM → SIGKILL grace when stopping a replica. */
  stopGraceSeconds: number;
  internalPortBase: number;
}

export interface RolloutDeps {
  store: Store;
  dataPlanes: DataPlaneRegistry;
  gateway: GatewaySync;
  instance: string;
  logger: Logger;
  settings: RolloutSettings;
  /** True once the control plane is shutting down: rollouts stop where they are and resume at the next start. */
  isStopping: () => boolean;
  /** Decrypts a deployment's configuration when its replicas start; nothing decrypted is stored. */
  keyring: Keyring;
}

class RolloutFailed extends Error {}

/** A failed rollout's reason with the last lines of each new replica fits in this. */
const STATUS_REASON_MAX_CHARS = 64 * 1024;

const specOf = (t: DeploymentTarget) => t.spec as unknown as DeploymentSpec;

/** The readiness probe (§6.4): TCP on the first endpoint port; none when there is no endpoint. */
export function readinessProbe(spec: DeploymentSpec): Probe | undefined {
  const first = spec.endpoints[0];
  return first ? { kind: 'tcp', port: first.port } : undefined;
}

export function replicaLabels(
  instance: string,
  t: DeploymentTarget,
  replica: number,
): Record<string, string> {
  return {
    ...networkLabels({ instance, org: t.org, project: t.project, environment: t.environment }),
    [LABEL.component]: t.component,
    [LABEL.deployment]: t.id,
    [LABEL.replica]: String(replica),
  };
}

export function dataPlaneOf(deps: RolloutDeps, t: DeploymentTarget): DataPlane {
  return deps.dataPlanes.for({ id: t.data_plane_id, type: t.data_plane_type, config: t.data_plane_config });
}

/**
 * Rolls one deployment out (§6.4) and is safe to run again on the same deployment at any point:
 * it reuses the replicas that already exist, so a control plane killed mid-rollout resumes.
 * Steps: bring the replicas up (network, image, start, readiness) → switch the gateway and the
 * names to them → mark them ready → mark active → drain → stop the previous replicas. A failure
 * before "mark active" removes the new replicas and leaves the old ones serving; one after it
 * leaves the new ones serving (the reconciler collects old replicas left behind).
 */
export async function rollout(deps: RolloutDeps, deploymentId: string): Promise<void> {
  const { store, logger } = deps;
  const t = await deploymentTargets(store.db).where('d.id', '=', deploymentId).executeTakeFirst();
  if (!t || (t.status !== 'pending' && t.status !== 'rolling-out')) return;
  await setStatus(store, t.id, 'rolling-out', null);
  const dp = dataPlaneOf(deps, t);
  const log = logger.child({
    deployment: t.id,
    component: `${t.project}/${t.component}`,
    environment: t.environment,
  });
  const started: WorkloadInfo[] = [];
  try {
    await bringUp(deps, dp, t, started);
    // The switch does not wait for the marks (a rename holds the container, which the sync's
    // listing would wait on): a crash before they land leaves this deployment rolling out, the
    // gateway goes back to the active one, and the restarted rollout probes and marks again.
    await deps.gateway.sync({ deployment: t.id, ready: started.map((w) => w.id) });
    await markReady(deps, dp, t, started);
    await activate(store, t);
  } catch (err) {
    deps.gateway.settle(t.id);
    if (deps.isStopping()) return;
    const reason = err instanceof Error ? err.message : String(err);
    log.warn({ reason }, 'rollout failed; the previous deployment keeps serving');
    const secrets = await materialize(
      store.db,
      deps.keyring,
      (t.spec as unknown as DeploymentSpec).config ?? [],
    )
      .then((m) => m.secrets)
      .catch(() => []);
    const logs = redact(await lastLogs(dp, started), secrets);
    await Promise.all(started.map((w) => dp.removeWorkload(w.id, 1).catch(() => undefined)));
    await setStatus(
      store,
      t.id,
      'failed',
      logs ? `${reason}\n--- last log lines of the new replicas ---\n${logs}` : reason,
    );
    // If it failed after the switch, the gateway and the names go back to the active deployment.
    await deps.gateway.sync().catch(() => undefined);
    return;
  }
  deps.gateway.settle(t.id);
  log.info({ replicas: started.length }, 'deployment active; draining the previous replicas');
  // Past this point the new replicas are the ones serving: a failure must never remove them
  // (nothing would serve). Old replicas left running are collected by the reconciler's next pass.
  try {
    // A task's deployment serves nothing, so there is nothing to drain.
    if (specOf(t).replicas > 0) await sleep(deps.settings.drainMs);
    await stopOthers(deps, dp, t);
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    log.warn({ reason }, 'could not stop every previous replica; the reconciler collects them');
  }
}

/**
 * Makes every replica of `t` run and pass readiness: network, pinned image, missing replicas
 * started, probes. Pushes each replica it runs into `replicas` as it goes, so a caller can clean
 * up after a failure. Used by rollouts and by the reconciler to replace lost replicas; both then
 * `markReady` them.
 */
export async function bringUp(
  deps: RolloutDeps,
  dp: DataPlane,
  t: DeploymentTarget,
  replicas: WorkloadInfo[],
): Promise<void> {
  const spec = t.spec as unknown as DeploymentSpec;
  const network = await dp.ensureNetwork(
    networkName(deps.instance, t),
    networkLabels({ instance: deps.instance, ...t }),
  );
  const imageId = spec.imageId ?? (await pinImage(deps, t.id, spec, dp));
  replicas.push(...(await startReplicas(deps, dp, t, { ...spec, imageId }, network)));
  await waitReady(deps, dp, replicas, spec, t.id);
}

/** Records that `replicas` passed readiness, so gateway syncs route to them and publish their names. */
export async function markReady(
  deps: RolloutDeps,
  dp: DataPlane,
  t: DeploymentTarget,
  replicas: WorkloadInfo[],
): Promise<void> {
  const network = networkName(deps.instance, t);
  await Promise.all(
    replicas.filter((w) => !w.ready).map((w) => dp.markReady(w.id, network, replicaNames(t))),
  );
}

async function pinImage(deps: RolloutDeps, id: string, spec: DeploymentSpec, dp: DataPlane): Promise<string> {
  const imageId = await dp
    .ensureImage(spec.image)
    .catch(recordingCondition(deps.store, id, 'image-pull-failed'));
  await deps.store.db
    .updateTable('deployments')
    .set({ spec: JSON.stringify({ ...spec, imageId }) })
    .where('id', '=', id)
    .execute();
  return imageId;
}

async function startReplicas(
  deps: RolloutDeps,
  dp: DataPlane,
  t: DeploymentTarget,
  spec: DeploymentSpec & { imageId: string },
  network: NetworkInfo,
) {
  const existing = await dp.listWorkloads({ [LABEL.instance]: deps.instance, [LABEL.deployment]: t.id });
  const replicas: WorkloadInfo[] = [];
  const config = await materialize(deps.store.db, deps.keyring, spec.config ?? []).catch(
    recordingCondition(
      deps.store,
      t.id,
      'config-error',
      (r) => `the configuration could not be prepared: ${r}`,
    ),
  );
  const internalPort = t.gateway_slot === null ? undefined : deps.settings.internalPortBase + t.gateway_slot;
  for (let i = 0; i < spec.replicas; i++) {
    const found = existing.find((w) => w.labels[LABEL.replica] === String(i));
    if (found && (found.state === 'running' || found.state === 'restarting')) {
      replicas.push(found);
      continue;
    }
    if (found) await dp.removeWorkload(found.id, 1);
    replicas.push(
      await dp
        .runWorkload({
          name: `rondo-${deps.instance}.${t.org}.${t.project}.${t.component}.${t.environment}.${t.id.slice(-8)}-${i}`,
          image: spec.imageId,
          labels: replicaLabels(deps.instance, t, i),
          network: network.name,
          names: replicaNames(t),
          env: {
            ...spec.env,
            ...config.env,
            ...(internalPort ? { RONDO_INTERNAL_GATEWAY: `http://rondo-gateway:${internalPort}` } : {}),
          },
          files: config.files,
          ports: spec.endpoints.map((e) => e.port),
          restartPolicy: 'on-failure',
          ...(spec.resources ? { resources: spec.resources } : {}),
          // The host answers on every bridge's gateway; this network's is the environment's way in.
          extraHosts: [`rondo-gateway:${network.gateway}`],
        })
        .catch(
          recordingCondition(deps.store, t.id, 'start-failed', (r) => `replica ${i} could not start: ${r}`),
        ),
    );
  }
  return replicas;
}

async function waitReady(
  deps: RolloutDeps,
  dp: DataPlane,
  replicas: WorkloadInfo[],
  spec: DeploymentSpec,
  deploymentId: string,
): Promise<void> {
  const probe = readinessProbe(spec);
  const deadline = Date.now() + deps.settings.readinessTimeoutMs;
  // Every replica is probed, even one already marked ready: a resumed rollout trusts nothing.
  const pending = new Set(replicas.map((w) => w.id));
  // Most services answer within a second of starting: poll every 10 ms until then (a probe is
  // one local connection), then back off to 200 ms for slow starters.
  const fastUntil = Date.now() + 1000;
  let pause = 10;
  let lastReason = 'not started';
  while (pending.size > 0) {
    for (const id of [...pending]) {
      const w = await dp.inspectWorkload(id);
      if (!w || w.state === 'exited' || w.state === 'dead') {
        throw new RolloutFailed(
          `replica ${w?.name ?? id} exited with code ${w?.exitCode ?? '?'} before it became ready`,
        );
      }
      if (!w.ip) continue;
      const reason = probe
        ? await runProbe(w.ip, probe)
        : w.state === 'running'
          ? undefined
          : `state ${w.state}`;
      if (reason === undefined) pending.delete(id);
      else lastReason = reason;
    }
    if (pending.size === 0) return;
    if (deps.isStopping()) throw new RolloutFailed('the control plane is shutting down');
    if (Date.now() > deadline) {
      const seconds = Math.round(deps.settings.readinessTimeoutMs / 1000);
      await recordDeploymentCondition(
        deps.store,
        deploymentId,
        'readiness-failed',
        `${pending.size} of ${replicas.length} replicas did not pass readiness within ${seconds} s; the probe answered: ${lastReason}`,
      );
      throw new RolloutFailed(
        `readiness did not pass within ${Math.round(deps.settings.readinessTimeoutMs / 1000)} s (${lastReason})`,
      );
    }
    await sleep(pause);
    if (Date.now() > fastUntil) pause = Math.min(pause * 2, 200);
  }
}

/** Makes this deployment the active one of its (component, environment), superseding the previous. */
async function activate(store: Store, t: DeploymentTarget): Promise<void> {
  await store.db.transaction().execute(async (tx) => {
    await tx
      .updateTable('deployments')
      .set({ status: 'superseded', updated_at: new Date() })
      .where('component_id', '=', t.component_id)
      .where('environment_id', '=', t.environment_id)
      .where('status', '=', 'active')
      .where('id', '!=', t.id)
      .execute();
    await tx
      .updateTable('deployments')
      .set({ status: 'active', status_reason: null, updated_at: new Date() })
      .where('id', '=', t.id)
      .execute();
  });
}

/**
 * Stops the replicas of this component in this environment that belong to neither `t`, nor the
 * active deployment, nor one still rolling out: a deploy made while `t` drains (and perhaps
 * already active by the time the drain ends) keeps the replicas it started.
 */
async function stopOthers(deps: RolloutDeps, dp: DataPlane, t: DeploymentTarget): Promise<void> {
  const all = await dp.listWorkloads({
    [LABEL.instance]: deps.instance,
    [LABEL.org]: t.org,
    [LABEL.project]: t.project,
    [LABEL.component]: t.component,
    [LABEL.environment]: t.environment,
  });
  const inProgress = await deps.store.db
    .selectFrom('deployments')
    .select('id')
    .where('component_id', '=', t.component_id)
    .where('environment_id', '=', t.environment_id)
    .where('status', 'in', ['pending', 'rolling-out', 'active'])
    .execute();
  const keep = new Set([t.id, ...inProgress.map((d) => d.id)]);
  await Promise.all(
    all
      .filter((w) => !isExecution(w) && !keep.has(w.labels[LABEL.deployment] ?? ''))
      .map((w) => dp.removeWorkload(w.id, deps.settings.stopGraceSeconds)),
  );
}

async function setStatus(store: Store, id: string, status: string, reason: string | null): Promise<void> {
  // A reason holds engine errors and the replicas' last lines: storable first, or the write fails
  // and the deployment stays rolling out.
  const storable = reason === null ? null : storableText(reason, { maxChars: STATUS_REASON_MAX_CHARS });
  await store.db
    .updateTable('deployments')
    .set({ status, status_reason: storable, updated_at: new Date() })
    .where('id', '=', id)
    .execute();
}

async function lastLogs(dp: DataPlane, replicas: WorkloadInfo[]): Promise<string> {
  const parts = await Promise.all(
    replicas.map(async (w) => {
      let text = await dp.logs(w.id, { tail: 20 }).catch(() => '');
      // A replica that died a moment ago may not have its output in the engine's log yet.
      for (let i = 0; i < 5 && !text.trim(); i++) {
        await sleep(100);
        text = await dp.logs(w.id, { tail: 20 }).catch(() => '');
      }
      return text.trim() ? `[${w.name}]\n${text.trim()}` : '';
    }),
  );
  return parts.filter(Boolean).join('\n');
}
