import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { type Logger, pino } from 'pino';
import type { Api } from './api/api.js';
import { createApi } from './api/app.js';
import type { BuildQueue } from './builds/build-queue.js';
import type { RondoConfig } from './config.js';
import { bootstrap } from './control/bootstrap.js';
import { installationId } from './control/settings.js';
import type { GatewaySync } from './deploy/gateway-sync.js';
import type { Reconciler } from './deploy/reconciler.js';
import { allowLinkLocalRepositories } from './domain/repository-host.js';
import { AlertEvaluator } from './observability/alert-evaluator.js';
import { AlertNotifier } from './observability/alert-notifier.js';
import type { GatewayLogCollector } from './observability/gateway-log-collector.js';
import type { LogCollector } from './observability/log-collector.js';
import { PrometheusAlertRules } from './observability/prometheus-alert-rules.js';
import { prometheusAlerting, readReceiverToken } from './platform/alertmanager.js';
import { Keyring } from './secrets/envelope.js';
import { MasterKeyFile } from './secrets/master-key.js';
import { rewrapAll } from './secrets/rotation.js';
import type { SecretDeps } from './secrets/secret-deps.js';
import { logSafeError } from './store/query-errors.js';
import { openStore, type Store, type StoreConfig } from './store/store.js';
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
  /** Follows replicas' output into the store (G3). */
  readonly logCollector?: LogCollector;
  /** Follows the gateway's access log into the store, per component (G3). */
  readonly gatewayLogCollector?: GatewayLogCollector;
  /** Alert rules Rondo evaluates, and the notifications it sends (G3); started by `listen()`. */
  readonly alerts: { evaluator: AlertEvaluator; notifier: AlertNotifier };
  readonly instance?: string;
  /** The admin token, only on the very first start and only when it was generated here. */
  readonly bootstrapToken?: string;
  /** Listens, then starts reconciling. */
  listen(): Promise<string>;
  /** Finishes in-flight requests, stops reconciling (rollouts resume at the next start), closes the store. */
  close(): Promise<void>;
}

export function storeConfigOf(config: RondoConfig): StoreConfig {
  if (config.databaseUrl) return { driver: 'postgres', url: config.databaseUrl };
  const inMemory = config.dataDir === 'memory://';
  const ownLogs = config.logStore !== 'shared';
  return {
    driver: 'pglite',
    dataDir: inMemory ? 'memory://' : join(config.dataDir, 'store'),
    ...(config.pgliteThread ? { thread: config.pgliteThread } : {}),
    ...(ownLogs ? { logsDataDir: inMemory ? 'memory://' : join(config.dataDir, 'log-store') } : {}),
    ...(ownLogs && config.logStoreNice !== undefined ? { logsNice: config.logStoreNice } : {}),
  };
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
  // Written off the event loop: a slow reader of the output (a full pipe, a busy journal) held every
  // request while it waited (docs/observability.md). pino writes what is pending at exit.
  rootLogger: Logger = pino({ level: config.logLevel }, pino.destination({ dest: 1, sync: false })),
): Promise<Rondo> {
  // Errors are logged with their stack and fields, but a database error without its values.
  const logger = rootLogger.child({}, { serializers: { err: logSafeError } });
  allowLinkLocalRepositories(config.allowLinkLocalRepositories ?? false);
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
      ? (await import('./server-engine.js')).createDeployEngine(
          store,
          secrets.keyring,
          instance,
          config.platform,
          logger,
        )
      : undefined;
    // Latency, traffic and resource rules: Prometheus evaluates, Alertmanager calls back.
    const alerting = prometheusAlerting(config);
    const hooks = engine ? { builds: engine.builds, logger, gitTimeoutMs: 30_000 } : undefined;
    const api = await createApi(
      { store, ...secrets },
      logger,
      engine?.deploy,
      engine?.builds,
      engine?.tasks,
      hooks,
      {
        ...(config.publicUrl ? { publicUrl: config.publicUrl } : {}),
        listen: { host: config.host, port: config.port },
        ...(config.authFailures ? { authFailures: config.authFailures } : {}),
        ...(engine ? { runtimeLogs: engine.runtimeLogs, componentChanges: engine.componentChanges } : {}),
        ...(engine?.metrics
          ? { metrics: engine.metrics.deps, metricsExporter: engine.metrics.exporter }
          : {}),
        alertEmail: config.alerts?.smtp !== undefined,
        ...(alerting
          ? { alertmanager: { store, token: () => readReceiverToken(alerting.receiverTokenFile) } }
          : {}),
      },
    );
    await api.ready();
    const alerts = {
      evaluator: new AlertEvaluator(
        {
          store,
          logger,
          ...(alerting
            ? {
                prometheusRules: new PrometheusAlertRules({
                  store,
                  file: alerting.rulesFile,
                  prometheusListen: alerting.prometheusListen,
                  logger,
                }),
              }
            : {}),
        },
        config.alerts?.evaluateMs,
      ),
      notifier: new AlertNotifier(
        {
          store,
          keyring: secrets.keyring,
          logger,
          ...(config.alerts?.smtp ? { smtp: config.alerts.smtp } : {}),
          ...(config.alerts?.retryDelaysMs ? { retryDelaysMs: config.alerts.retryDelaysMs } : {}),
        },
        config.alerts?.deliverMs,
      ),
    };
    const generated = first && !config.bootstrapToken ? first.token : undefined;
    return {
      api,
      store,
      logger,
      instance,
      alerts,
      ...(engine
        ? {
            reconciler: engine.reconciler,
            gateway: engine.gateway,
            buildQueue: engine.buildQueue,
            tasks: engine.tasks,
            logCollector: engine.logCollector,
            gatewayLogCollector: engine.gatewayLogCollector,
          }
        : {}),
      ...(generated ? { bootstrapToken: generated } : {}),
      async listen() {
        const url = await api.listen({ host: config.host, port: config.port });
        await engine?.start();
        alerts.evaluator.start();
        alerts.notifier.start();
        return url;
      },
      async close() {
        await api.close();
        await Promise.all([alerts.evaluator.stop(), alerts.notifier.stop()]);
        await engine?.stop();
        await store.close();
      },
    };
  } catch (err) {
    await store.close();
    throw err;
  }
}
