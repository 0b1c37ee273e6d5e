import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Logger } from 'pino';
import { BuildChanges } from './builds/build-changes.js';
import { BuildQueue } from './builds/build-queue.js';
import { BuildKitCli } from './builds/buildkit-cli.js';
import type { BuildUseDeps } from './builds/builds.js';
import { type BuildDeps, runBuild } from './builds/pipeline.js';
import { ComponentChanges } from './control/component-changes.js';
import { systemContext } from './control/context.js';
import { Pruning } from './control/pruning.js';
import { dockerDrivers } from './dataplane/docker/docker-driver.js';
import { DockerImages } from './dataplane/docker/docker-images.js';
import { NameServer } from './dataplane/docker/name-server.js';
import { kubernetesDrivers } from './dataplane/kubernetes/kubernetes-drivers.js';
import { DataPlaneRegistry } from './dataplane/registry.js';
import type { DeployDeps } from './deploy/deployments.js';
import { createDeployment } from './deploy/deployments.js';
import { GatewaySync } from './deploy/gateway-sync.js';
import { GatewayWatch } from './deploy/gateway-watch.js';
import { Reconciler } from './deploy/reconciler.js';
import { parseHaproxyAccessLine } from './gateway/haproxy-access-log.js';
import { HostGateway } from './gateway/host-gateway.js';
import { pruneDeliveries } from './git/delivery-retention.js';
import { RepositoryPoller } from './git/repository-poller.js';
import type { WebhookDeps } from './git/webhook-receiver.js';
import { GatewayLogCollector } from './observability/gateway-log-collector.js';
import type { GatewayRequestSink } from './observability/gateway-requests.js';
import { LogChanges } from './observability/log-changes.js';
import { LogCollector } from './observability/log-collector.js';
import { pruneGatewayRequests, pruneRuntimeLogs } from './observability/log-retention.js';
import { createMetrics } from './observability/metrics/metrics-engine.js';
import { ReplicaConditions } from './observability/replica-conditions.js';
import type { RuntimeLogDeps } from './observability/runtime-logs.js';
import type { PlatformConfig } from './platform-config.js';
import type { Keyring } from './secrets/envelope.js';
import type { Store } from './store/store.js';
import { ExecutionRunner } from './tasks/executions.js';
import { pruneExecutions } from './tasks/retention.js';
import { Scheduler } from './tasks/scheduler.js';
import type { TaskDeps } from './tasks/task-runs.js';

/**
 * The platform half of the composition root: the deploy engine, builds, tasks and Git automation
 * over the data plane. `createRondo` imports it only when the platform is on, so a control plane
 * without one does not load the Docker client, the image builder or the secret scanner.
 */
export type DeployEngine = ReturnType<typeof createDeployEngine>;

export function createDeployEngine(
  store: Store,
  keyring: Keyring,
  instance: string,
  platform: PlatformConfig,
  logger: Logger,
) {
  // Replicas' names on this host's networks (port 53 of each bridge's gateway address).
  const names = new NameServer({ warn: (message) => logger.warn(message) });
  mkdirSync(dirname(platform.gateway.accessLogPath), { recursive: true });
  // This host's gateway: every Docker data plane publishes its part of the routes to it.
  const hostGateway = new HostGateway(platform.gateway, logger);
  // A driver per data plane type.
  const kubernetes = kubernetesDrivers(keyring, {
    platformRegistry: platform.registry,
    gateway: () => clusterGatewayOptions(platform, instance),
  });
  const dataPlanes = new DataPlaneRegistry({
    docker: dockerDrivers({
      defaultSocket: platform.dockerSocket,
      names,
      gateway: hostGateway,
      instance,
      logger,
    }),
    kubernetes: kubernetes.factory,
  });
  // Load the Kubernetes client now only where a cluster is registered (it takes a second or more).
  void store.db
    .selectFrom('data_planes')
    .select('id')
    .where('type', '=', 'kubernetes')
    .executeTakeFirst()
    .then((cluster) => (cluster ? kubernetes.preload() : undefined))
    .catch((err: unknown) => logger.warn({ err: String(err) }, 'the Kubernetes driver could not be loaded'));
  const gateway = new GatewaySync({ store, dataPlanes, settings: platform.gateway, instance, logger });
  // A restarted gateway gets its routes back within this, not at the next resync (docs/decisions.md).
  const gatewayWatch = new GatewayWatch(hostGateway, gateway, logger, 500);
  const reconciler = new Reconciler(
    {
      store,
      dataPlanes,
      gateway,
      instance,
      logger,
      keyring,
      settings: platform.rollout,
      livenessIntervalMs: platform.resyncMs,
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
  const buildChanges = new BuildChanges();
  const componentChanges = new ComponentChanges(store);
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
    changes: buildChanges,
  };
  const buildQueue = new BuildQueue(
    (id) => runBuild(buildDeps, id),
    platform.builds.concurrency,
    logger,
    store,
  );
  const builds: BuildUseDeps = {
    store,
    keyring,
    enqueueBuild: (id) => buildQueue.enqueue(id),
    changes: buildChanges,
    gitTimeoutMs: 30_000,
  };
  const hooks: WebhookDeps = { builds, logger, gitTimeoutMs: 30_000 };
  const poller = new RepositoryPoller(hooks, platform.resyncMs);
  const logChanges = new LogChanges();
  const logRetentionDays = platform.logs?.retentionDays ?? 30;
  // Replicas' output, followed from the engine into the store (docs/observability.md).
  const logCollector = new LogCollector(
    { store, dataPlanes, keyring, instance, logger, changes: logChanges },
    {
      ...(platform.logs?.discoverMs ? { discoverMs: platform.logs.discoverMs } : {}),
      ...(platform.logs?.flushMs ? { flushMs: platform.logs.flushMs } : {}),
      ...(platform.logs?.batchLines ? { batchLines: platform.logs.batchLines } : {}),
    },
  );
  // Crashes, crash loops and OOM kills of replicas, as deployment events.
  const conditions = new ReplicaConditions({
    store,
    dataPlanes,
    instance,
    logger,
    flushLogs: () => logCollector.flush(),
  });
  // Consumers of every stored batch of gateway requests besides the store (metrics push theirs here).
  const gatewayRequestSinks: GatewayRequestSink[] = [];
  const gatewayChanges = new LogChanges();
  // The gateway's access log, per component (G3); HAProxy's line format stays in src/gateway.
  const gatewayLogCollector = new GatewayLogCollector({
    store,
    logger,
    changes: gatewayChanges,
    path: platform.gateway.accessLogPath,
    parse: parseHaproxyAccessLine,
    sink: (batch) => {
      for (const sink of gatewayRequestSinks) sink(batch);
    },
  });
  const metrics = platform.metrics
    ? createMetrics(platform.metrics, { store, dataPlanes, instance, logger })
    : undefined;
  if (metrics) gatewayRequestSinks.push(metrics.exporter.recordGatewayRequests);
  const runtimeLogs: RuntimeLogDeps = {
    store,
    retentionDays: logRetentionDays,
    changes: logChanges,
    gatewayChanges,
  };
  const pruning = new Pruning(
    [
      { what: 'execution history', prune: () => pruneExecutions(store, platform.tasks) },
      {
        what: 'webhook deliveries',
        prune: () => pruneDeliveries(store, platform.webhookDeliveryRetentionDays),
      },
      { what: 'runtime logs', prune: () => pruneRuntimeLogs(store, logRetentionDays) },
      { what: 'gateway logs', prune: () => pruneGatewayRequests(store, logRetentionDays) },
    ],
    logger,
  );
  return {
    gateway,
    reconciler,
    deploy,
    builds,
    buildQueue,
    tasks,
    hooks,
    runtimeLogs,
    componentChanges,
    logCollector,
    gatewayLogCollector,
    gatewayRequestSinks,
    metrics,
    async start() {
      await componentChanges.start();
      reconciler.start();
      gatewayWatch.start();
      await buildQueue.recover(store, platform.builds.workDir);
      await runner.recover();
      scheduler.start();
      poller.start();
      pruning.start();
      logCollector.start();
      gatewayLogCollector.start();
      conditions.start();
      metrics?.sampler.start();
    },
    async stop() {
      await Promise.all([
        scheduler.stop(),
        poller.stop(),
        pruning.stop(),
        gatewayWatch.stop(),
        logCollector.stop(),
        gatewayLogCollector.stop(),
        conditions.stop(),
        metrics?.sampler.stop(),
      ]);
      // Runs go on without the control plane; the next start reattaches to them.
      runner.stop();
      await reconciler.stop();
      await componentChanges.stop();
      names.close();
      // Last: the parts above still called the drivers while stopping. A cluster's watches end here.
      await dataPlanes.shutdown();
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
 * Rondo's gateway inside clusters (G6): the site's `gateway` base image (`rondo images bootstrap`)
 * on every node's public port (the host gateway's), its metrics and configuration identity on the
 * node's loopback at the host gateway's metrics port; none without the image.
 */
export function clusterGatewayOptions(platform: PlatformConfig, instance: string) {
  const image = platform.builds.baseImages().gateway?.['1'];
  if (!image) return undefined;
  return {
    image,
    instance,
    publicPort: platform.gateway.publicPort,
    controlPort: Number(platform.gateway.metricsListen.split(':').pop()) || 7072,
    bodyLimitBytes: platform.gateway.bodyLimitBytes,
  };
}
