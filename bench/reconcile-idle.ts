/**
 * G5: the control-plane CPU a reconcile of 1,000 idle keys takes — 1,000 components each with
 * one active deployment whose replica runs and is marked ready: one resync pass (list, read the
 * store, decide nothing is due), after a first pass of a control plane new to the keys (which on
 * a data plane that restarts its own replicas, Kubernetes, has nothing due either; on Docker it
 * reconciles every key once for its liveness check). The data plane is an in-memory stand-in
 * answering that listing, so what is measured is the reconciler and the embedded store alone.
 * Goal: < 1 s. Then every key enqueued as a trigger does (all its steps, for every key: G6's
 * bound of < 5 s for 1,000 components applies to it on a cluster).
 */
import pino from 'pino';
import type { DataPlaneDriver, Replica as WorkloadInfo } from '../src/dataplane/driver.js';
import { LABEL } from '../src/dataplane/labels.js';
import type { DataPlaneRegistry } from '../src/dataplane/registry.js';
import type { GatewaySync } from '../src/deploy/gateway-sync.js';
import { Reconciler } from '../src/deploy/reconciler.js';
import type { Keyring } from '../src/secrets/envelope.js';
import { startTestRondo } from '../test/helpers/rondo.js';

const KEYS = 1000;

export async function benchReconcileIdle(): Promise<void> {
  const t = await startTestRondo('pglite');
  try {
    await t.call('POST', '/api/v1/orgs/default/projects', { body: { name: 'shop' } });
    const store = t.rondo.store;
    const db = store.db;
    const project = await db
      .selectFrom('projects')
      .select(['id', 'org_id'])
      .where('name', '=', 'shop')
      .executeTakeFirstOrThrow();
    const env = await db
      .selectFrom('environments')
      .select(['id', 'name'])
      .where('org_id', '=', project.org_id)
      .executeTakeFirstOrThrow();
    const keys: { componentId: string; environmentId: string }[] = [];
    const snapshots = new Map<string, WorkloadInfo[]>();
    for (let i = 0; i < KEYS; i++) {
      const componentId = `cmp_bench_${i}`;
      const deploymentId = `dep_bench_${i}`;
      await db
        .insertInto('components')
        .values({
          id: componentId,
          org_id: project.org_id,
          project_id: project.id,
          name: `svc-${i}`,
          display_name: `svc-${i}`,
          description: '',
          type: 'service',
          source: JSON.stringify({ kind: 'image', image: 'bench:1' }),
          build_preset: null,
          build_configs: JSON.stringify([]),
          auto_build: false,
          auto_deploy: false,
          watch_paths: JSON.stringify([]),
          build_tags: false,
          endpoints: JSON.stringify([]),
        })
        .execute();
      const spec = {
        image: 'bench:1',
        imageId: 'sha256:bench',
        replicas: 1,
        env: {},
        endpoints: [{ name: 'rest', port: 8080, type: 'REST', visibility: ['Public'] }],
      };
      await db
        .insertInto('deployments')
        .values({
          id: deploymentId,
          org_id: project.org_id,
          component_id: componentId,
          environment_id: env.id,
          status: 'active',
          phase: 'Active',
          image: 'bench:1',
          replicas: 1,
          spec: JSON.stringify(spec),
          created_by: 'bench',
        })
        .execute();
      keys.push({ componentId, environmentId: env.id });
      snapshots.set(componentId, [
        {
          id: `c${i}`,
          name: `svc-${i}-0`,
          labels: {
            [LABEL.instance]: 'bench',
            [LABEL.org]: 'default',
            [LABEL.project]: 'shop',
            [LABEL.component]: `svc-${i}`,
            [LABEL.environment]: env.name,
            [LABEL.deployment]: deploymentId,
            [LABEL.replica]: '0',
          },
          state: 'running',
          ip: '10.0.0.1',
          ready: true,
        },
      ]);
    }
    const listing = [...snapshots.values()].flat();
    const byComponent = new Map<string, WorkloadInfo[]>();
    for (const w of listing) {
      const c = w.labels[LABEL.component] ?? '';
      byComponent.set(c, [...(byComponent.get(c) ?? []), w]);
    }
    let failures = 0;
    const measure = async (restartsOnLiveness: boolean) => {
      const dp = {
        capabilities: { restartsOnLiveness },
        revisions: {
          list: async (labels: Record<string, string>) =>
            (byComponent.get(labels[LABEL.component] ?? '') ?? []).filter((w) =>
              Object.entries(labels).every(([k, v]) => w.labels[k] === v),
            ),
          probe: async (id: string) => ({ replica: listing.find((w) => w.id === id) }),
        },
        environments: {
          list: async () => [],
          ensure: async (ref: { environment: string }) => ({
            name: ref.environment,
            labels: {},
            sourceCidrs: ['10.0.0.0/24'],
          }),
        },
        observe: {},
      } as unknown as DataPlaneDriver;
      const deps = {
        store,
        dataPlanes: {
          for: () => dp,
          tryFor: () => dp,
          clients: () => [['bench', dp]],
        } as unknown as DataPlaneRegistry,
        gateway: { sync: async () => undefined } as unknown as GatewaySync,
        instance: 'bench',
        // A stand-in that falls short of the ports makes every reconcile fail (and retry): counted, not hidden.
        logger: pino(
          { level: 'warn' },
          {
            write: (line: string) => {
              if (failures++ === 0) console.log(`the first: ${line}`);
            },
          },
        ),
        settings: { readinessTimeoutMs: 1000, drainMs: 0, stopGraceSeconds: 1, internalPortBase: 20000 },
        keyring: {} as Keyring,
        livenessIntervalMs: 60_000,
      };
      const reconciler = new Reconciler(deps, { resyncMs: 60_000 });
      const pass = async () => {
        const cpu0 = process.cpuUsage();
        const t0 = performance.now();
        await reconciler.reconcile();
        await reconciler.idle();
        const cpu = process.cpuUsage(cpu0);
        return { cpuMs: (cpu.user + cpu.system) / 1000, wallMs: performance.now() - t0 };
      };
      // First pass: every key is new to this process. On Docker each is reconciled once (its
      // liveness check is due); on a data plane that restarts its own replicas none is.
      const first = await pass();
      const second = await pass();
      // Every key enqueued as a trigger does: all its steps, whatever the listing says.
      const cpu0 = process.cpuUsage();
      const t0 = performance.now();
      for (const k of keys) reconciler.enqueueKey(k);
      await reconciler.idle();
      const cpu = process.cpuUsage(cpu0);
      const all = { cpuMs: (cpu.user + cpu.system) / 1000, wallMs: performance.now() - t0 };
      await reconciler.stop();
      return { first, second, all };
    };
    for (const [name, restartsOnLiveness] of [
      ['replicas restarted by Rondo (Docker)', false],
      ['replicas restarted by the data plane (Kubernetes)', true],
    ] as const) {
      const { first, second, all } = await measure(restartsOnLiveness);
      console.log(
        `${name}: first pass over ${KEYS} idle keys ${first.cpuMs.toFixed(0)} ms CPU ${first.wallMs.toFixed(0)} ms wall; resync pass ${second.cpuMs.toFixed(0)} ms CPU ${second.wallMs.toFixed(0)} ms wall (goal < 1000 ms CPU); every key enqueued (all steps) ${all.cpuMs.toFixed(0)} ms CPU ${all.wallMs.toFixed(0)} ms wall`,
      );
    }
    if (failures > 0) throw new Error(`${failures} warnings from the reconciler: the stand-in falls short`);
  } finally {
    await t.close();
  }
}
