import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { type Logger, pino } from 'pino';
import { type Api, createApi } from './api/app.js';
import { BuildQueue } from './build/build-queue.js';
import { BuildKitCli } from './build/buildkit-cli.js';
import type { BuildUseDeps } from './build/builds.js';
import { type BuildDeps, runBuild } from './build/pipeline.js';
import type { RondoConfig } from './config.js';
import { bootstrap } from './control/bootstrap.js';
import { systemContext } from './control/context.js';
import { installationId } from './control/settings.js';
import { DockerImages } from './dataplane/docker/docker-images.js';
import { DataPlaneRegistry } from './deploy/data-plane-registry.js';
import type { DeployDeps } from './deploy/deployments.js';
import { createDeployment } from './deploy/deployments.js';
import { GatewaySync } from './deploy/gateway-sync.js';
import { Reconciler } from './deploy/reconciler.js';
import { CaddyAdmin } from './gateway/caddy-admin.js';
import { RepositoryPoller } from './git/repository-poller.js';
import type { WebhookDeps } from './git/webhook-receiver.js';
import type { PlatformConfig } from './platform-config.js';
import { Keyring } from './secrets/envelope.js';
import { MasterKeyFile } from './secrets/master-key.js';
import { rewrapAll } from './secrets/rotation.js';
import type { SecretDeps } from './secrets/secret-deps.js';
import { openStore, type Store, type StoreConfig } from './store/store.js';
import { ExecutionRunner } from './tasks/executions.js';
import { ExecutionRetention } from './tasks/retention.js';
import { Scheduler } from './tasks/scheduler.js';
import type { TaskDeps } from './tasks/task-runs.js';

/** A running control plane: what `rondo server` starts and tests drive. */
export interface Rondo {
  readonly api: Api;
  readonly store: Store;
  readonly logger: Logger;
  /** The deploy engine, when the control plane runs with its platform. */
  readonly reconciler?: Reconciler;
  readonly gateway?: GatewaySync;
  readonly buildQueue?: BuildQueue;
  /** Task executions and schedules (§8). */
  readonly tasks?: TaskDeps;
  readonly instance?: string;
  /** The admin token, only on the very first start and only when it was generated here. */
  readonly bootstrapToken?: string;
  /** Listens, then starts reconciling. */
  listen(): Promise<string>;
  /** Finishes in-flight requests, stops reconciling (rollouts resume at the next start), closes the store. */
  close(): Promise<void>;
}

export function storeConfigOf(config: RondoConfig): StoreConfig {
  return config.databaseUrl
    ? { driver: 'postgres', url: config.databaseUrl }
    : {
        driver: 'pglite',
        dataDir: config.dataDir === 'memory://' ? 'memory://' : join(config.dataDir, 'store'),
      };
}

function createDeployEngine(
  store: Store,
  keyring: Keyring,
  instance: string,
  platform: PlatformConfig,
  logger: Logger,
) {
  let stopping = false;
  const dataPlanes = new DataPlaneRegistry(platform.dockerSocket);
  const admin = new CaddyAdmin(platform.gateway.adminListen);
  mkdirSync(dirname(platform.gateway.accessLogPath), { recursive: true });
  const gateway = new GatewaySync({ store, dataPlanes, admin, settings: platform.gateway, instance, logger });
  const reconciler = new Reconciler(
    {
      store,
      dataPlanes,
      gateway,
      instance,
      logger,
      keyring,
      settings: platform.rollout,
      isStopping: () => stopping,
    },
    { resyncMs: platform.resyncMs },
  );
  const deploy: DeployDeps = {
    store,
    dataPlanes,
    enqueue: (id) => reconciler.enqueue(id),
    urls: platform.gateway,
    instance,
    scheduleRules: platform.tasks.scheduleRules,
  };
  const runner = new ExecutionRunner({
    store,
    dataPlanes,
    keyring,
    instance,
    logger,
    settings: platform.tasks,
    internalPortBase: platform.rollout.internalPortBase,
  });
  const scheduler = new Scheduler({
    store,
    runner,
    logger,
    rules: platform.tasks.scheduleRules,
    resyncMs: platform.resyncMs,
  });
  const tasks: TaskDeps = { store, runner, scheduler };
  const buildDeps: BuildDeps = {
    store,
    images: new DockerImages(platform.dockerSocket),
    registry: platform.registry,
    workDir: platform.builds.workDir,
    baseImages: platform.builds.baseImages,
    keepUndeployed: platform.builds.keepUndeployed,
    buildkit: new BuildKitCli(platform.builds.dockerCli, platform.dockerSocket),
    caBundle: platform.builds.caBundle,
    stepTimeoutMs: platform.builds.stepTimeoutMs,
    buildTimeoutMs: platform.builds.buildTimeoutMs,
    keyring,
    instance,
    logger,
    afterSuccess: (buildId) => autoDeploy(deploy, buildId, logger),
  };
  const buildQueue = new BuildQueue((id) => runBuild(buildDeps, id), platform.builds.concurrency, logger);
  const retention = new ExecutionRetention(store, platform.tasks, logger);
  const builds: BuildUseDeps = {
    store,
    keyring,
    enqueueBuild: (id) => buildQueue.enqueue(id),
    gitTimeoutMs: 30_000,
  };
  const hooks: WebhookDeps = { builds, logger, gitTimeoutMs: 30_000 };
  const poller = new RepositoryPoller(hooks, platform.resyncMs);
  return {
    gateway,
    reconciler,
    deploy,
    builds,
    buildQueue,
    tasks,
    hooks,
    async start() {
      reconciler.start();
      await buildQueue.recover(store);
      await runner.recover();
      scheduler.start();
      retention.start();
      poller.start();
    },
    async stop() {
      stopping = true;
      await Promise.all([scheduler.stop(), poller.stop(), retention.stop()]);
      // Runs go on without the control plane; the next start reattaches to them.
      runner.stop();
      await reconciler.stop();
    },
  };
}

/** Auto-deploy (§6.1): a successful build of a component with autoDeploy on goes to its pipeline's first environment. */
async function autoDeploy(deploy: DeployDeps, buildId: string, logger: Logger): Promise<void> {
  const b = await deploy.store.db
    .selectFrom('builds as b')
    .innerJoin('components as c', 'c.id', 'b.component_id')
    .innerJoin('projects as p', 'p.id', 'c.project_id')
    .innerJoin('pipelines as pl', 'pl.id', 'p.pipeline_id')
    .innerJoin('organizations as o', 'o.id', 'b.org_id')
    .select(['b.image', 'c.name as component', 'p.name as project', 'o.name as org', 'pl.environment_ids'])
    .where('b.id', '=', buildId)
    .executeTakeFirstOrThrow();
  const first = b.environment_ids[0];
  if (!first || !b.image) return;
  const env = await deploy.store.db
    .selectFrom('environments')
    .select('name')
    .where('id', '=', first)
    .executeTakeFirstOrThrow();
  try {
    await createDeployment(deploy, systemContext(`build-${buildId}`), b.org, b.project, b.component, {
      environment: env.name,
      buildId,
    });
  } catch (err) {
    logger.warn(
      { build: buildId, err: err instanceof Error ? err.message : err },
      'auto-deploy after the build was refused',
    );
  }
}

/**
 * The master key (§5): from RONDO_MASTER_KEY_FILE, else `<dataDir>/master.key` (generated at first
 * start, mode 0600); an in-memory store gets an in-memory key. A rotation cut short by a crash is
 * finished here, before anything reads a value.
 */
async function openKeyring(config: RondoConfig, store: Store, logger: Logger): Promise<SecretDeps> {
  const path =
    config.masterKeyFile ?? (config.dataDir === 'memory://' ? undefined : join(config.dataDir, 'master.key'));
  if (!path) return { keyring: new Keyring(randomBytes(32)) };
  const masterKeyFile = new MasterKeyFile(path);
  const { keyring, unfinishedRotation } = masterKeyFile.load();
  if (unfinishedRotation) {
    const n = await rewrapAll(store, keyring);
    masterKeyFile.commitNext();
    logger.warn({ rewrapped: n }, 'finished a master key rotation that was interrupted');
  }
  return { keyring, masterKeyFile };
}

/** The composition root: every part is built here from explicit dependencies, nowhere else. */
export async function createRondo(
  config: RondoConfig,
  logger: Logger = pino({ level: config.logLevel }),
): Promise<Rondo> {
  const store = await openStore(storeConfigOf(config), {
    onIdleConnectionError: (err) =>
      logger.warn({ err: err.message }, 'database dropped an idle connection; it will be replaced'),
  });
  try {
    const first = await bootstrap(store, {
      orgName: config.bootstrapOrg,
      ...(config.bootstrapToken ? { token: config.bootstrapToken } : {}),
    });
    const instance = await installationId(store);
    const secrets = await openKeyring(config, store, logger);
    const engine = config.platform
      ? createDeployEngine(store, secrets.keyring, instance, config.platform, logger)
      : undefined;
    const hooks = engine ? { builds: engine.builds, logger, gitTimeoutMs: 30_000 } : undefined;
    const api = await createApi(
      { store, ...secrets },
      logger,
      engine?.deploy,
      engine?.builds,
      engine?.tasks,
      hooks,
    );
    await api.ready();
    const generated = first && !config.bootstrapToken ? first.token : undefined;
    return {
      api,
      store,
      logger,
      instance,
      ...(engine
        ? {
            reconciler: engine.reconciler,
            gateway: engine.gateway,
            buildQueue: engine.buildQueue,
            tasks: engine.tasks,
          }
        : {}),
      ...(generated ? { bootstrapToken: generated } : {}),
      async listen() {
        const url = await api.listen({ host: config.host, port: config.port });
        await engine?.start();
        return url;
      },
      async close() {
        await api.close();
        await engine?.stop();
        await store.close();
      },
    };
  } catch (err) {
    await store.close();
    throw err;
  }
}
