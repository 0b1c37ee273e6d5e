import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { storeValue } from '../../src/configuration/config-entries.js';
import type {
  DataPlaneDriver,
  ListOptions,
  Replica,
  RevisionSpec,
  RoutingState,
} from '../../src/dataplane/driver.js';
import { LABEL } from '../../src/dataplane/labels.js';
import { DataPlaneRegistry } from '../../src/dataplane/registry.js';
import { GatewaySync } from '../../src/deploy/gateway-sync.js';
import type { ReconcileDeps, RolloutSettings } from '../../src/deploy/reconcile/deps.js';
import type { ReconcileKey } from '../../src/deploy/reconcile/key.js';
import { type KeyMemory, newKeyMemory } from '../../src/deploy/reconcile/key-memory.js';
import { isSettled, livenessDue, reconcile } from '../../src/deploy/reconcile/reconcile.js';
import { revisionLabels } from '../../src/deploy/reconcile/replicas.js';
import { Reconciler } from '../../src/deploy/reconciler.js';
import { deploymentTargets, replicaNames } from '../../src/deploy/targets.js';
import type { Condition, DeploymentPhase } from '../../src/domain/conditions.js';
import type { ConfigItem } from '../../src/domain/configuration.js';
import type { DeploymentSpec, DeploymentStatus } from '../../src/domain/deployment-spec.js';
import { Keyring } from '../../src/secrets/envelope.js';
import { type KeyLocks, keyLocks } from '../../src/store/key-locks.js';
import type { Store } from '../../src/store/store.js';
import { FakeDriver } from '../dataplane/fake-driver.js';
import { plantedAwsKey } from '../helpers/secrets.js';
import { openTestStore } from '../helpers/stores.js';

/**
 * The reconcile steps (ensure-environment → … → check-liveness) driven through `reconcile()` for
 * one key, with a real store (PGlite, in memory) and the in-memory fake data plane: what each
 * rollout leaves in the store (phase, status, conditions), on the data plane (replicas) and in
 * the routing state the gateway sync published.
 */

const INSTANCE = 'steps';
const IMAGE = 'registry.test/shop/api:1';
const PORT = 8080;
/** Reconciles of one key before a test gives up on it converging. */
const MAX_PASSES = 500;

const spec = (o: Partial<DeploymentSpec> = {}): DeploymentSpec => ({
  image: IMAGE,
  replicas: 2,
  endpoints: [{ name: 'http', port: PORT, type: 'REST', basePath: '/', visibility: ['Public'] }],
  env: { GREETING: 'hello' },
  ...o,
});

interface World {
  store: Store;
  /** This test's organization's name. */
  org: string;
  fake: FakeDriver;
  deps: ReconcileDeps;
  key: ReconcileKey;
  locks: KeyLocks;
  orgId: string;
  keyring: Keyring;
  /** Inserts a deployment of the key (pending unless told), newer than every earlier one. */
  insert(o?: { spec?: DeploymentSpec; phase?: DeploymentPhase; status?: DeploymentStatus }): Promise<string>;
  /** Reconciles the key until it returns `{}` (calling again at once on a requeue); the passes taken. */
  converge(memory?: KeyMemory): Promise<number>;
  /** The memory `converge` uses unless given another (what one control plane keeps for the key). */
  memory: KeyMemory;
  /** Kills the control plane at the given driver call (see `crashable`). */
  crash: CrashSwitch;
  row(id: string): Promise<{
    phase: DeploymentPhase;
    status: DeploymentStatus;
    status_reason: string | null;
    conditions: Condition[];
    spec: DeploymentSpec;
  }>;
  /** The key's replicas on the fake, as `revisions.list` reports them. */
  replicas(deployment?: string): Promise<Replica[]>;
  lastPublished(): RoutingState;
  events(id: string): Promise<{ kind: string; message: string }[]>;
}

/**
 * One store for the file (opening PGlite and migrating it is most of a test's time); each test
 * gets its own organization, with its own data plane (its own fake), environment, project and
 * component, so what one test's gateway sync publishes is its own.
 */
let store: Store;
let cleanup: () => Promise<void>;
let worlds = 0;
beforeAll(async () => {
  ({ store, cleanup } = await openTestStore('pglite'));
});
afterAll(async () => {
  await cleanup?.();
});

async function world(settings: Partial<RolloutSettings> = {}): Promise<World> {
  const n = ++worlds;
  const db = store.db;
  const org = `acme${n}`;
  const orgId = `org_steps_${n}`;
  const dpId = `dp_fake_${n}`;
  const envId = `env_dev_${n}`;
  const fake = new FakeDriver();
  const crash: CrashSwitch = {};
  // Other tests' data planes get a driver of their own: their routes are not this test's.
  const dataPlanes = new DataPlaneRegistry({
    fake: (r) => (r.id === dpId ? crashable(fake, crash) : new FakeDriver()),
  });
  const logger = pino({ level: 'silent' });
  const gateway = new GatewaySync({
    store,
    dataPlanes,
    instance: INSTANCE,
    logger,
    settings: {
      publicPort: 8000,
      baseDomain: 'rondo.test',
      internalPortBase: 9000,
      dir: '/tmp/rondo-steps-gateway',
      metricsListen: '127.0.0.1:2019',
      publicListen: ':8000',
      accessLogPath: '/dev/null',
      bodyLimitBytes: 1024 * 1024,
    },
  });
  const keyring = new Keyring(Buffer.alloc(32, 7));
  const deps: ReconcileDeps = {
    store,
    dataPlanes,
    gateway,
    instance: INSTANCE,
    logger,
    keyring,
    livenessIntervalMs: 60_000,
    settings: {
      readinessTimeoutMs: 60_000,
      drainMs: 0,
      stopGraceSeconds: 0,
      internalPortBase: 9000,
      ...settings,
    },
  };

  await db.insertInto('organizations').values({ id: orgId, name: org, display_name: 'Acme' }).execute();
  await db
    .insertInto('data_planes')
    .values({ id: dpId, org_id: orgId, name: 'fake', type: 'fake', config: JSON.stringify({}) })
    .execute();
  await db
    .insertInto('environments')
    .values({
      id: envId,
      org_id: orgId,
      name: 'development',
      display_name: 'Development',
      production: false,
      data_plane_id: dpId,
      gateway_slot: n,
    })
    .execute();
  await db
    .insertInto('pipelines')
    .values({
      id: `pl_default_${n}`,
      org_id: orgId,
      name: 'default',
      environment_ids: JSON.stringify([envId]),
      is_default: true,
    })
    .execute();
  await db
    .insertInto('projects')
    .values({
      id: `prj_shop_${n}`,
      org_id: orgId,
      name: 'shop',
      display_name: 'Shop',
      description: '',
      pipeline_id: `pl_default_${n}`,
    })
    .execute();
  await db
    .insertInto('components')
    .values({
      id: `cmp_api_${n}`,
      org_id: orgId,
      project_id: `prj_shop_${n}`,
      name: 'api',
      display_name: 'API',
      description: '',
      type: 'service',
      source: JSON.stringify({ image: IMAGE }),
      build_preset: null,
      build_configs: JSON.stringify({}),
      auto_build: false,
      auto_deploy: false,
    })
    .execute();

  const key: ReconcileKey = { componentId: `cmp_api_${n}`, environmentId: envId };
  const locks = keyLocks(store);
  let inserted = 0;
  const base = Date.now() - 60_000;
  const w: World = {
    store,
    org,
    fake,
    deps,
    key,
    locks,
    orgId,
    keyring,
    memory: newKeyMemory(),
    crash,
    async insert(o = {}) {
      inserted++;
      const id = `dep_${n}_${String(inserted).padStart(4, '0')}_steps`;
      const phase = o.phase ?? 'Pending';
      await db
        .insertInto('deployments')
        .values({
          id,
          org_id: orgId,
          component_id: key.componentId,
          environment_id: key.environmentId,
          status: o.status ?? 'pending',
          phase,
          image: IMAGE,
          replicas: (o.spec ?? spec()).replicas,
          spec: JSON.stringify(o.spec ?? spec()),
          name: `20261201-1.0.${inserted}`,
          status_reason: null,
          created_by: null,
          release_id: null,
          // Strictly ordered: the reconcile picks the newest live deployment as the rollout.
          created_at: new Date(base + inserted * 1000),
          updated_at: new Date(base + inserted * 1000),
        })
        .execute();
      return id;
    },
    async converge(memory = w.memory) {
      for (let pass = 1; pass <= MAX_PASSES; pass++) {
        const r = await reconcile(deps, key, { signal: new AbortController().signal, memory, locks });
        if (r.requeueAfter === undefined) return pass;
      }
      throw new Error(`the key did not converge in ${MAX_PASSES} reconciles`);
    },
    async row(id) {
      return db
        .selectFrom('deployments')
        .select(['phase', 'status', 'status_reason', 'conditions', 'spec'])
        .where('id', '=', id)
        .executeTakeFirstOrThrow();
    },
    async replicas(deployment) {
      const all = await fake.revisions.list({ [LABEL.instance]: INSTANCE, [LABEL.org]: org });
      return deployment === undefined ? all : all.filter((r) => r.labels[LABEL.deployment] === deployment);
    },
    lastPublished() {
      const last = fake.published.at(-1);
      if (!last) throw new Error('nothing was published');
      return last;
    },
    async events(id) {
      return db
        .selectFrom('deployment_events')
        .select(['kind', 'message'])
        .where('deployment_id', '=', id)
        .orderBy('id')
        .execute();
    },
  };
  return w;
}

/** A condition by type, as `{ status, reason }` (and the message when asked). */
const condition = (conditions: Condition[], type: Condition['type']) =>
  conditions.find((c) => c.type === type);

/** What the published state routes: revision entries (with `switching`) and the deployments of public routes. */
function routed(state: RoutingState) {
  return {
    revisions: state.revisions.map((r) => ({ deployment: r.deployment, switching: r.switching })),
    routes: state.hosts.flatMap((h) =>
      h.routes.map((r) => `${h.host}${r.prefix} → ${r.deployment}:${r.port}`),
    ),
  };
}
const routesTo = (w: World, deployment: string) => [
  `development.rondo.test/${w.org}/shop/api/http → ${deployment}:${PORT}`,
];

/** Every replica of `deployment` is running and marked serving, with its names, indexes 0 … n-1. */
async function expectServing(w: World, deployment: string, replicas: number) {
  const mine = await w.replicas(deployment);
  expect(mine.map((r) => r.labels[LABEL.replica]).sort()).toEqual(
    [...Array(replicas).keys()].map((i) => String(i)),
  );
  for (const r of mine) {
    expect(r).toMatchObject({ state: 'running', ready: true });
    expect(w.fake.namesOf(r.id)).toEqual(['api', 'api.shop']);
  }
  return mine;
}

/** A deployment rolled out to Active from pending, as row 1 does it: the starting point of later rows. */
async function activeDeployment(w: World, s = spec()) {
  const id = await w.insert({ spec: s });
  await w.converge();
  expect((await w.row(id)).phase).toBe('Active');
  return { id, replicas: await expectServing(w, id, s.replicas) };
}

/** Armed with `at`: the `at`-th driver call from now aborts the reconcile's signal and throws. */
interface CrashSwitch {
  at?: number;
  signal?: AbortController;
  calls?: number;
}

/**
 * The fake as a control plane killed with SIGKILL would leave it: at the armed call, the call is
 * never made, the reconcile's signal is aborted (so no step records a failure on its way out, as
 * a dead process records nothing) and the reconcile throws.
 */
function crashable(fake: FakeDriver, crash: CrashSwitch): DataPlaneDriver {
  const wrap = <T extends object>(port: T): T =>
    new Proxy(port, {
      get(target, prop, receiver) {
        const value: unknown = Reflect.get(target, prop, receiver);
        if (typeof value !== 'function') return value;
        return (...args: unknown[]) => {
          if (crash.at !== undefined) {
            crash.calls = (crash.calls ?? 0) + 1;
            if (crash.calls === crash.at) {
              crash.signal?.abort();
              throw new Error('killed');
            }
          }
          return (value as (...a: unknown[]) => unknown).apply(target, args);
        };
      },
    });
  return {
    capabilities: fake.capabilities,
    ping: () => fake.ping(),
    status: (timeoutMs) => fake.status(timeoutMs),
    environments: wrap(fake.environments),
    revisions: wrap(fake.revisions),
    traffic: wrap(fake.traffic),
    jobs: wrap(fake.jobs),
    observe: wrap(fake.observe),
  };
}

describe('reconcile steps against the fake data plane', () => {
  it('1. a fresh rollout of 2 replicas ends Active, routed and marked serving', async () => {
    const w = await world();
    const id = await w.insert();
    await w.converge();

    const row = await w.row(id);
    expect(row).toMatchObject({ phase: 'Active', status: 'active', status_reason: null });
    expect(condition(row.conditions, 'Ready')).toMatchObject({ status: 'True', reason: 'ReplicasReady' });
    expect(condition(row.conditions, 'TrafficSwitched')).toMatchObject({
      status: 'True',
      reason: 'GatewaySwitched',
    });
    expect(condition(row.conditions, 'ImagePinned')).toMatchObject({ status: 'True', reason: 'Pinned' });
    expect(condition(row.conditions, 'Progressing')).toMatchObject({
      status: 'False',
      reason: 'RolloutComplete',
    });
    expect(condition(row.conditions, 'Degraded')).toMatchObject({ status: 'False' });
    // The image is pinned into the spec, and the replicas run the pin, not the tag.
    expect(row.spec.imageId).toMatch(/^sha256:[0-9a-f]{64}$/);

    const replicas = await expectServing(w, id, 2);
    expect(replicas).toHaveLength(2);
    for (const r of replicas)
      expect(r.labels).toMatchObject({
        [LABEL.instance]: INSTANCE,
        [LABEL.org]: w.org,
        [LABEL.project]: 'shop',
        [LABEL.component]: 'api',
        [LABEL.environment]: 'development',
        [LABEL.deployment]: id,
      });

    // The switch was published while switching. Activate does not publish again, so the last
    // state still says `switching` until the next sync (the resync pass's); that sync routes it
    // as active.
    expect(w.fake.published.some((s) => s.revisions.some((r) => r.deployment === id && r.switching))).toBe(
      true,
    );
    expect(routed(w.lastPublished()).routes).toEqual(routesTo(w, id));
    await w.deps.gateway.sync();
    expect(routed(w.lastPublished())).toEqual({
      revisions: [{ deployment: id, switching: false }],
      routes: routesTo(w, id),
    });
    // Converged: another reconcile changes nothing.
    expect(await w.converge()).toBe(1);
    expect((await w.replicas(id)).map((r) => r.id).sort()).toEqual(replicas.map((r) => r.id).sort());
  });

  it('2. a rollout replacing an active deployment supersedes it and removes its replicas', async () => {
    const w = await world();
    const old = await activeDeployment(w);
    const id = await w.insert({ spec: spec({ env: { GREETING: 'bonjour' } }) });
    await w.converge();

    const row = await w.row(id);
    expect(row).toMatchObject({ phase: 'Active', status: 'active' });
    expect(condition(row.conditions, 'Ready')).toMatchObject({ status: 'True', reason: 'ReplicasReady' });
    const previous = await w.row(old.id);
    expect(previous).toMatchObject({ phase: 'Superseded', status: 'superseded' });
    expect(condition(previous.conditions, 'Ready')).toMatchObject({
      status: 'False',
      reason: 'Superseded',
      message: `${id} serves instead`,
    });
    expect(condition(previous.conditions, 'TrafficSwitched')).toMatchObject({
      status: 'False',
      reason: 'Superseded',
    });

    // retire-previous removed the old replicas; only the new ones run.
    expect(await w.replicas(old.id)).toEqual([]);
    for (const r of old.replicas) expect(await w.fake.revisions.inspect(r.id)).toBeUndefined();
    await expectServing(w, id, 2);
    expect(await w.replicas()).toHaveLength(2);

    // Every state published since the new rollout started routes exactly one deployment.
    for (const s of w.fake.published) expect(s.revisions).toHaveLength(1);
    expect(routed(w.lastPublished()).routes).toEqual(routesTo(w, id));
    expect(w.lastPublished().revisions.map((r) => r.deployment)).toEqual([id]);
  });

  it('3. readiness that never passes fails the rollout; the previous deployment keeps serving', async () => {
    const w = await world({ readinessTimeoutMs: 30 });
    const old = await activeDeployment(w);
    const publishedBefore = w.fake.published.length;
    const id = await w.insert({ spec: spec({ env: { GREETING: 'hola' } }) });
    w.fake.failReadiness(id, 'connect ECONNREFUSED 10.77.0.9:8080');
    await w.converge();

    const row = await w.row(id);
    expect(row).toMatchObject({ phase: 'Failed', status: 'failed' });
    expect(row.status_reason).toContain('readiness did not pass within');
    expect(row.status_reason).toContain('connect ECONNREFUSED 10.77.0.9:8080');
    expect(condition(row.conditions, 'Ready')).toMatchObject({
      status: 'False',
      reason: 'RolloutFailed',
      message: expect.stringContaining('connect ECONNREFUSED 10.77.0.9:8080'),
    });
    expect(condition(row.conditions, 'Progressing')).toMatchObject({
      status: 'False',
      reason: 'RolloutFailed',
    });
    expect(condition(row.conditions, 'TrafficSwitched')).toMatchObject({
      status: 'False',
      reason: 'RolloutFailed',
    });
    expect(await w.events(id)).toEqual([
      {
        kind: 'readiness-failed',
        message: expect.stringContaining('2 of 2 replicas did not pass readiness'),
      },
    ]);

    // The new replicas are gone; the old ones are the very same, still running and marked.
    expect(await w.replicas(id)).toEqual([]);
    const still = await expectServing(w, old.id, 2);
    expect(still.map((r) => r.id).sort()).toEqual(old.replicas.map((r) => r.id).sort());
    expect(await w.row(old.id)).toMatchObject({ phase: 'Active', status: 'active' });

    // The failed rollout never switched, and what is published now routes only the old one.
    for (const s of w.fake.published.slice(publishedBefore))
      expect(s.revisions.map((r) => r.deployment)).not.toContain(id);
    expect(routed(w.lastPublished())).toEqual({
      revisions: [{ deployment: old.id, switching: false }],
      routes: routesTo(w, old.id),
    });
  });

  it('4. a replica that exits before it is ready fails the rollout naming the exit code', async () => {
    const w = await world();
    const id = await w.insert();
    w.fake.failReadiness(id, 'connection refused');
    // The first reconcile starts the replicas and finds them not ready yet: it requeues.
    const first = await reconcile(w.deps, w.key, {
      signal: new AbortController().signal,
      memory: w.memory,
      locks: w.locks,
    });
    expect(first.requeueAfter).toBeGreaterThan(0);
    expect(await w.row(id)).toMatchObject({ phase: 'Progressing', status: 'rolling-out' });
    const [crashing] = await w.replicas(id);
    if (!crashing) throw new Error('no replica started');
    w.fake.print(crashing.id, 'panic: cannot open /data/db\n');
    w.fake.exit(crashing.id, 3);
    await w.converge();

    const row = await w.row(id);
    expect(row).toMatchObject({ phase: 'Failed', status: 'failed' });
    expect(row.status_reason).toMatch(/^exited with code 3\n/);
    // The reason carries the new replicas' last lines.
    expect(row.status_reason).toContain(`[${crashing.name}]\npanic: cannot open /data/db`);
    expect(condition(row.conditions, 'Ready')).toMatchObject({
      status: 'False',
      reason: 'RolloutFailed',
      message: 'exited with code 3',
    });
    expect(await w.replicas()).toEqual([]);
    // Nothing was ever routed.
    for (const s of w.fake.published) expect(s.revisions).toEqual([]);
  });

  it('5. a rollout resumed in TrafficSwitching by a fresh control plane probes again and ends Active', async () => {
    const w = await world();
    const old = await activeDeployment(w);
    // What a control plane that crashed after recording the switch left: the rollout switching,
    // its replicas running (pinned image, not yet marked), the old one still active.
    const pinned = await w.fake.revisions.pin(IMAGE);
    const id = await w.insert({
      spec: spec({ imageId: pinned, env: { GREETING: 'hallo' } }),
      phase: 'TrafficSwitching',
      status: 'rolling-out',
    });
    const target = await deploymentTargets(w.store.db).where('d.id', '=', id).executeTakeFirstOrThrow();
    const environment = await w.fake.environments.ensure({
      instance: INSTANCE,
      org: w.org,
      project: 'shop',
      environment: 'development',
    });
    const revision: RevisionSpec = {
      environment,
      labels: revisionLabels(INSTANCE, target),
      name: `rondo-${INSTANCE}.${w.org}.shop.api.development.${id.slice(-8)}`,
      image: pinned,
      replicas: 2,
      env: { GREETING: 'hallo' },
      files: [],
      ports: [PORT],
      readiness: { kind: 'tcp', port: PORT },
      names: replicaNames(target),
    };
    const started = await w.fake.revisions.start(revision, [0, 1]);
    // The first reading after the restart fails: the resumed reconcile does not trust the switch.
    w.fake.failReadiness(id, 'warming up', 1);

    const memory = newKeyMemory();
    const first = await reconcile(w.deps, w.key, {
      signal: new AbortController().signal,
      memory,
      locks: w.locks,
    });
    expect(first.requeueAfter).toBeGreaterThan(0);
    expect(await w.row(id)).toMatchObject({ phase: 'TrafficSwitching', status: 'rolling-out' });
    await w.converge(memory);

    const row = await w.row(id);
    expect(row).toMatchObject({ phase: 'Active', status: 'active' });
    expect(condition(row.conditions, 'Ready')).toMatchObject({ status: 'True', reason: 'ReplicasReady' });
    expect(condition(row.conditions, 'TrafficSwitched')).toMatchObject({ status: 'True' });
    expect(await w.row(old.id)).toMatchObject({ phase: 'Superseded', status: 'superseded' });
    // The replicas it found are the ones that serve: none started again, none left of the old one.
    const serving = await expectServing(w, id, 2);
    expect(serving.map((r) => r.id).sort()).toEqual(started.map((r) => r.id).sort());
    expect(await w.replicas(old.id)).toEqual([]);
    expect(routed(w.lastPublished()).routes).toEqual(routesTo(w, id));
    expect(w.lastPublished().revisions.map((r) => r.deployment)).toEqual([id]);
  });

  it('6. a serving deployment that loses a replica replaces it: Degraded True, then False', async () => {
    const w = await world();
    const { id, replicas } = await activeDeployment(w);
    const [lost, kept] = replicas;
    if (!lost || !kept) throw new Error('two replicas expected');
    w.fake.exit(lost.id, 137);
    // The replacement answers readiness only on its second reading, so the degraded state is seen.
    w.fake.failReadiness(id, 'starting', 1);

    const first = await reconcile(w.deps, w.key, {
      signal: new AbortController().signal,
      memory: w.memory,
      locks: w.locks,
    });
    expect(first.requeueAfter).toBeGreaterThan(0);
    const degraded = await w.row(id);
    expect(degraded).toMatchObject({ phase: 'Active', status: 'active' });
    expect(condition(degraded.conditions, 'Degraded')).toMatchObject({
      status: 'True',
      reason: 'ReplicasMissing',
      message: '1 of 2 replicas running; starting 1',
    });
    // The stopped replica is gone, its replacement runs under the same index and is not routed yet.
    expect(await w.fake.revisions.inspect(lost.id)).toBeUndefined();
    const replacement = (await w.replicas(id)).find((r) => r.id !== kept.id);
    expect(replacement).toMatchObject({
      state: 'running',
      ready: false,
      labels: { [LABEL.replica]: lost.labels[LABEL.replica] },
    });

    await w.converge();
    const healed = await w.row(id);
    expect(healed).toMatchObject({ phase: 'Active', status: 'active' });
    expect(condition(healed.conditions, 'Degraded')).toMatchObject({
      status: 'False',
      reason: 'ReplicasServing',
    });
    expect(condition(healed.conditions, 'Ready')).toMatchObject({ status: 'True' });
    const serving = await expectServing(w, id, 2);
    expect(serving.map((r) => r.id)).toContain(kept.id);
    expect(serving.map((r) => r.id)).toContain(replacement?.id);
    expect(routed(w.lastPublished())).toEqual({
      revisions: [{ deployment: id, switching: false }],
      routes: routesTo(w, id),
    });
  });

  it('6c. on a data plane that restarts replicas itself, its liveness check counts as done: the next pass finds the key idle', async () => {
    const w = await world();
    w.fake.capabilities.restartsOnLiveness = true;
    await activeDeployment(w);
    // A restarted control plane: nothing checked yet, the resync pass's listing in hand.
    const memory = newKeyMemory();
    const snapshot = await w.replicas();
    expect(livenessDue(memory, w.deps)).toBe(true);
    await reconcile(w.deps, w.key, {
      signal: new AbortController().signal,
      memory,
      locks: w.locks,
      snapshot,
    });
    // What the resync pass asks before enqueueing the key again: settled, nothing due.
    const active = (await w.replicas())[0]?.labels[LABEL.deployment] ?? '';
    expect(isSettled({ id: active, replicas: 2 }, snapshot, memory)).toBe(true);
    expect(livenessDue(memory, w.deps)).toBe(false);
  });

  it('6d. a restarted control plane leaves a settled key idle at its first resync pass on a data plane that restarts replicas itself, and only there', async () => {
    // What the first pass reconciles, counted as the reconciles that reach the key's data plane.
    const firstPass = async (restartsItself: boolean) => {
      const w = await world();
      w.fake.capabilities.restartsOnLiveness = restartsItself;
      await activeDeployment(w);
      const { data_plane_id: mine } = await store.db
        .selectFrom('environments')
        .select('data_plane_id')
        .where('id', '=', w.key.environmentId)
        .executeTakeFirstOrThrow();
      let reconciles = 0;
      const registry = w.deps.dataPlanes;
      // Only this test's data plane: the other tests' keys (one store for the file) fail and wait.
      const dataPlanes = {
        tryFor: (r: { id: string }) => (r.id === mine ? registry.tryFor(r as never) : undefined),
        for: (r: { id: string }) => {
          if (r.id !== mine) throw new Error('not this test’s data plane');
          reconciles++;
          return registry.for(r as never);
        },
      } as unknown as DataPlaneRegistry;
      const reconciler = new Reconciler({ ...w.deps, dataPlanes }, { resyncMs: 3_600_000 });
      await reconciler.reconcile();
      await reconciler.idle();
      await reconciler.stop();
      return reconciles;
    };
    expect(await firstPass(true)).toBe(0);
    // Docker's replicas are probed for liveness by the control plane: a new one checks them once.
    expect(await firstPass(false)).toBe(1);
  });

  it('6e. a serving key is acted on from the watched view only when it shows the key settled; else, and after a trigger, it is listed live', async () => {
    const w = await world();
    w.fake.capabilities.restartsOnLiveness = true;
    const { id, replicas } = await activeDeployment(w);
    const list = w.fake.revisions.list;
    const asked: string[] = [];
    const run = (live?: boolean) =>
      reconcile(w.deps, w.key, {
        signal: new AbortController().signal,
        memory: w.memory,
        locks: w.locks,
        ...(live ? { live } : {}),
      });
    // A view that lags: one replica not in it yet. Nothing is started on its word.
    w.fake.revisions.list = async (labels, o?: ListOptions) => {
      asked.push(o?.cached ? 'cached' : 'live');
      return o?.cached ? (await list(labels)).slice(1) : list(labels);
    };
    await run();
    expect(asked).toEqual(['cached', 'live']);
    const after = (await list({ [LABEL.instance]: INSTANCE, [LABEL.org]: w.org })).filter(
      (r) => r.labels[LABEL.deployment] === id,
    );
    expect(after.map((r) => r.id).sort()).toEqual(replicas.map((r) => r.id).sort());
    // A trigger (a deploy, an exit) never asks the view.
    asked.length = 0;
    await run(true);
    expect(asked).toEqual(['live']);
    // A view that shows the key settled is enough: one listing, from the view.
    w.fake.revisions.list = async (labels, o?: ListOptions) => {
      asked.push(o?.cached ? 'cached' : 'live');
      return list(labels);
    };
    asked.length = 0;
    await run();
    expect(asked).toEqual(['cached']);
  });

  it('6b. on a data plane that restarts replicas itself, one being created or between restarts is left to it', async () => {
    const w = await world();
    // Kubernetes: a pod being created, or whose container the kubelet will restart, is its own.
    w.fake.capabilities.restartsOnLiveness = true;
    const { id, replicas } = await activeDeployment(w);
    const [pending, crashed] = replicas;
    if (!pending || !crashed) throw new Error('two replicas expected');
    const list = w.fake.revisions.list;
    w.fake.revisions.list = async (labels) =>
      (await list(labels)).map((r) =>
        r.id === pending.id
          ? { ...r, state: 'created' }
          : r.id === crashed.id
            ? { ...r, state: 'restarting' }
            : r,
      );
    await reconcile(w.deps, w.key, {
      signal: new AbortController().signal,
      memory: w.memory,
      locks: w.locks,
    });
    expect((await w.replicas(id)).map((r) => r.id).sort()).toEqual([pending.id, crashed.id].sort());
    // One that will not run again (an evicted pod) is replaced, as on Docker.
    w.fake.revisions.list = list;
    w.fake.exit(crashed.id, 3);
    await w.converge();
    expect(await w.fake.revisions.inspect(crashed.id)).toBeUndefined();
    expect(await w.replicas(id)).toHaveLength(2);
    expect((await w.row(id)).phase).toBe('Active');
  });

  it('7. an image the data plane cannot pin fails the rollout with an image-pull event', async () => {
    const w = await world();
    const old = await activeDeployment(w);
    const missing = 'registry.test/shop/api:does-not-exist';
    w.fake.failPin(missing, `manifest for ${missing} not found`);
    const id = await w.insert({ spec: spec({ image: missing }) });
    await w.converge();

    const row = await w.row(id);
    expect(row).toMatchObject({ phase: 'Failed', status: 'failed' });
    expect(row.status_reason).toContain(`manifest for ${missing} not found`);
    expect(row.spec.imageId).toBeUndefined();
    expect(condition(row.conditions, 'Ready')).toMatchObject({
      status: 'False',
      reason: 'RolloutFailed',
      message: expect.stringContaining('not found'),
    });
    // No ImagePinned=True; the failure is recorded as an event (no ImagePinned=False is set).
    expect(condition(row.conditions, 'ImagePinned')?.status).not.toBe('True');
    expect(await w.events(id)).toEqual([
      { kind: 'image-pull-failed', message: `manifest for ${missing} not found` },
    ]);
    expect(await w.replicas(id)).toEqual([]);
    await expectServing(w, old.id, 2);
    expect(routed(w.lastPublished()).routes).toEqual(routesTo(w, old.id));
  });
});

describe('a secret in a deployment’s configuration', () => {
  /** A secret env var frozen into the spec as a reference to an encrypted value. */
  async function secretConfig(w: World, value: string): Promise<ConfigItem[]> {
    const valueId = await storeValue(w.store.db, w.keyring, w.orgId, w.key.componentId, Buffer.from(value));
    return [{ key: 'AWS_SECRET_ACCESS_KEY', kind: 'env', secret: true, valueId, version: 1 }];
  }

  it('reaches the replicas’ environment, and never the published state nor the replicas’ labels', async () => {
    const w = await world();
    const planted = plantedAwsKey();
    const seen: Record<string, string>[] = [];
    w.fake.onImage(IMAGE, (_args, env) => {
      seen.push(env);
      return { output: 'listening\n' };
    });
    const id = await w.insert({ spec: spec({ config: await secretConfig(w, planted.secret) }) });
    await w.converge();

    expect((await w.row(id)).phase).toBe('Active');
    // Positive control: the replicas did get it (decrypted in memory at start).
    expect(seen).toHaveLength(2);
    for (const env of seen) expect(env.AWS_SECRET_ACCESS_KEY).toBe(planted.secret);
    // It is in no routing state published and in no replica's labels, nor in the stored row.
    expect(w.fake.published.length).toBeGreaterThan(0);
    expect(JSON.stringify(w.fake.published)).not.toContain(planted.secret);
    for (const r of await w.replicas()) expect(JSON.stringify(r)).not.toContain(planted.secret);
    expect(JSON.stringify(await w.row(id))).not.toContain(planted.secret);
  });

  it('is redacted from a failed rollout’s reason that quotes the replicas’ output', async () => {
    const w = await world({ readinessTimeoutMs: 30 });
    const planted = plantedAwsKey();
    w.fake.onImage(IMAGE, (_args, env) => ({ output: `using key ${env.AWS_SECRET_ACCESS_KEY}\n` }));
    const id = await w.insert({ spec: spec({ config: await secretConfig(w, planted.secret) }) });
    w.fake.failReadiness(id, 'connection refused');
    await w.converge();

    const row = await w.row(id);
    expect(row.phase).toBe('Failed');
    expect(row.status_reason).toContain('using key ***');
    expect(row.status_reason).not.toContain(planted.secret);
    expect(JSON.stringify(w.fake.published)).not.toContain(planted.secret);
  });
});

describe('a control plane killed at any point of a rollout', () => {
  it('converges after a restart to the new deployment alone: routed, its replicas exactly, nothing orphaned', async () => {
    // Count the driver calls of one undisturbed rollout replacing an active deployment (12 when
    // this was written), then kill a fresh one at each of those calls in turn.
    const probe = await world();
    await activeDeployment(probe);
    await probe.insert({ spec: spec({ env: { GREETING: 'bonjour' } }) });
    probe.crash.at = Number.MAX_SAFE_INTEGER;
    probe.crash.calls = 0;
    await probe.converge();
    const calls = probe.crash.calls;
    expect(calls).toBeGreaterThan(5);

    for (let at = 1; at <= calls; at++) {
      const w = await world();
      const old = await activeDeployment(w);
      const id = await w.insert({ spec: spec({ env: { GREETING: 'bonjour' } }) });
      const killed = new AbortController();
      Object.assign(w.crash, { at, calls: 0, signal: killed });
      try {
        for (let pass = 0; pass < MAX_PASSES; pass++) {
          const r = await reconcile(w.deps, w.key, {
            signal: killed.signal,
            memory: w.memory,
            locks: w.locks,
          });
          if (r.requeueAfter === undefined) break;
        }
      } catch {
        // Killed: what it left is what the restarted control plane finds.
      }
      // The restarted control plane: nothing remembered, nothing armed.
      w.crash.at = undefined;
      await w.converge(newKeyMemory());
      await w.deps.gateway.sync();

      const row = await w.row(id);
      expect({ at, phase: row.phase }).toEqual({ at, phase: 'Active' });
      expect((await w.row(old.id)).phase).toBe('Superseded');
      expect(await w.replicas(old.id)).toEqual([]);
      const mine = await w.replicas(id);
      expect(mine.map((r) => r.labels[LABEL.replica]).sort()).toEqual(['0', '1']);
      expect(mine.every((r) => r.ready && r.state === 'running')).toBe(true);
      expect(await w.replicas()).toHaveLength(2);
      expect(routed(w.lastPublished())).toEqual({
        revisions: [{ deployment: id, switching: false }],
        routes: routesTo(w, id),
      });
    }
  });
});
