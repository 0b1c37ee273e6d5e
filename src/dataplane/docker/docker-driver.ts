import type { Logger } from 'pino';
import type {
  DataPlaneDriver,
  EnvironmentInfo,
  EnvironmentRef,
  JobSpec,
  Probe,
  ReadinessReading,
  RevisionSpec,
} from '../driver.js';
import { LABEL, networkLabels, networkName } from '../labels.js';
import { runProbe } from '../probes.js';
import { runProcess } from '../task-argv.js';
import { DockerDataPlane } from './docker-data-plane.js';
import { DockerTraffic, type HostGateway } from './docker-traffic.js';
import type { NetworkInfo, WorkloadInfo } from './engine.js';
import type { NameServer } from './name-server.js';

/** How workloads name the environment's organization gateway: the host, on their bridge's gateway address. */
const GATEWAY_HOST = 'rondo-gateway';

const environmentInfo = (n: NetworkInfo): EnvironmentInfo => ({
  name: n.name,
  labels: n.labels,
  sourceCidrs: n.subnet ? [n.subnet] : [],
  ...(n.gateway ? { gatewayAddress: n.gateway } : {}),
});

function gatewayWiring(environment: EnvironmentInfo, port: number | undefined) {
  const env: Record<string, string> = port
    ? { RONDO_INTERNAL_GATEWAY: `http://${GATEWAY_HOST}:${port}` }
    : {};
  return {
    env,
    extraHosts: environment.gatewayAddress ? [`${GATEWAY_HOST}:${environment.gatewayAddress}`] : [],
  };
}

/**
 * The Docker driver: one container per replica on a bridge network per (project, environment),
 * readiness probed from the control plane's host and marked by a rename, names served by Rondo's
 * name server, routes published to this host's gateway by address.
 */
export function dockerDriver(
  engine: DockerDataPlane,
  deps: { dataPlaneId: string; instance: string; gateway: HostGateway | undefined; logger: Logger },
): DataPlaneDriver {
  /** Replicas this driver started (or inspected since), until it removes them. */
  const started = new Map<string, WorkloadInfo>();
  return {
    capabilities: { restartsOnLiveness: false },
    ping: () => engine.ping(),
    status: (timeoutMs) => engine.status(timeoutMs),
    environments: {
      ensure: async (ref: EnvironmentRef) =>
        environmentInfo(await engine.ensureNetwork(networkName(ref.instance, ref), networkLabels(ref))),
      list: async (instance) =>
        (await engine.listNetworks({ [LABEL.instance]: instance })).map(environmentInfo),
      async remove(env) {
        // Task runs share a sandbox per network (task-sandbox.ts); it goes with its network.
        const sandboxes = await engine.listWorkloads({ [LABEL.sandbox]: env.name });
        await Promise.all(sandboxes.map((w) => engine.removeWorkload(w.id, 0)));
        await engine.removeNetwork(env.name);
      },
    },
    revisions: {
      pin: (image) => engine.ensureImage(image),
      async start(spec: RevisionSpec, indexes: number[]) {
        const wiring = gatewayWiring(spec.environment, spec.organizationGatewayPort);
        // Side by side: each start is mostly the engine waiting on the kernel.
        const replicas = await Promise.all(
          indexes.map((i) =>
            engine.runWorkload({
              name: `${spec.name}-${i}`,
              image: spec.image,
              labels: { ...spec.labels, [LABEL.replica]: String(i) },
              network: spec.environment.name,
              names: spec.names,
              env: { ...spec.env, ...wiring.env },
              files: spec.files,
              ports: spec.ports,
              restartPolicy: 'on-failure',
              ...(spec.resources ? { resources: spec.resources } : {}),
              extraHosts: wiring.extraHosts,
            }),
          ),
        );
        for (const w of replicas) started.set(w.id, w);
        return replicas;
      },
      list: (labels) => engine.listWorkloads(labels),
      inspect: (id) => engine.inspectWorkload(id),
      probe: async (id: string, probe: Probe | undefined): Promise<ReadinessReading> => {
        // A replica this driver started and saw running answers the probe without an inspect
        // (one engine call fewer per poll); only a failing probe asks the engine why.
        const seen = started.get(id);
        if (probe && seen?.ip && seen.state === 'running' && (await runProbe(seen.ip, probe)) === undefined)
          return { replica: seen };
        const w = await engine.inspectWorkload(id);
        if (w) started.set(id, w);
        else started.delete(id);
        if (!w || w.state === 'exited' || w.state === 'dead')
          return {
            replica: w,
            stopped: true,
            failure: `replica ${w?.name ?? id} exited with code ${w?.exitCode ?? '?'} before it became ready`,
          };
        if (w.state === 'restarting')
          return {
            replica: w,
            failure: `replica ${w.name} exited with code ${w.exitCode ?? '?'}; restarting`,
          };
        if (w.state === 'created') {
          // Its control plane died between create and start (replicas start side by side): start it.
          await engine.startWorkload(id);
          return { replica: w, failure: `replica ${w.name} was created but never started; starting it` };
        }
        if (!w.ip) return { replica: w, failure: 'no address yet' };
        const failure = probe
          ? await runProbe(w.ip, probe)
          : w.state === 'running'
            ? undefined
            : `state ${w.state}`;
        return failure === undefined ? { replica: w } : { replica: w, failure };
      },
      markServing: async (id, env, names) => {
        // A reconnect for aliases gives the replica a new address.
        const w = await engine.markReady(id, env, names);
        started.set(id, w);
        return w;
      },
      restart: async (id) => {
        started.delete(id);
        await engine.restartWorkload(id);
      },
      remove: async (id, graceSeconds) => {
        started.delete(id);
        await engine.removeWorkload(id, graceSeconds);
      },
      logs: (id, tail) => engine.logs(id, { tail }),
    },
    traffic: new DockerTraffic(engine, deps),
    jobs: {
      async start(spec: JobSpec) {
        const wiring = gatewayWiring(spec.environment, spec.organizationGatewayPort);
        // Arguments go after the image's program, whether it is an ENTRYPOINT or a CMD (task-argv.ts).
        const process = spec.args.length
          ? runProcess(await engine.imageProcess(spec.image), spec.args)
          : undefined;
        return engine.runWorkload({
          name: spec.name,
          image: spec.image,
          labels: spec.labels,
          network: spec.environment.name,
          names: [],
          env: { ...spec.env, ...wiring.env },
          files: spec.files,
          // An argv array, never read by a shell; without arguments the image's own process runs.
          ...(process?.command ? { command: process.command } : {}),
          ...(process ? { args: process.args } : {}),
          ports: [],
          ...(spec.resources ? { resources: spec.resources } : {}),
          restartPolicy: 'no',
          extraHosts: wiring.extraHosts,
          shortRun: true,
        });
      },
      list: (labels) => engine.listWorkloads(labels),
      wait: (id, signal) => engine.waitWorkload(id, signal),
      logs: (id, tail) => engine.logs(id, { tail }),
      follow: (id, signal) => engine.followLogs(id, signal ? { signal } : {}),
      remove: (id, graceSeconds) => engine.removeWorkload(id, graceSeconds),
    },
    observe: {
      list: (labels) => engine.listWorkloads(labels),
      logLines: (id, options) => engine.streamLogLines(id, options),
      exits: (labels, signal) => engine.watchExits(labels, signal),
      stats: (labels) => engine.replicaStats(labels),
    },
  };
}

/**
 * The `docker` driver's factory: a data plane record's `config.socketPath` (Docker's or Podman's
 * API), else this host's engine at `defaultSocket`; the host's name server and gateway are shared.
 */
export function dockerDrivers(deps: {
  defaultSocket: string;
  names?: NameServer;
  gateway: HostGateway | undefined;
  instance: string;
  logger: Logger;
}): (record: { id: string; config: Record<string, unknown> }) => DataPlaneDriver {
  return (record) =>
    dockerDriver(
      new DockerDataPlane({
        socketPath:
          typeof record.config.socketPath === 'string' ? record.config.socketPath : deps.defaultSocket,
        ...(deps.names ? { names: deps.names } : {}),
      }),
      { dataPlaneId: record.id, instance: deps.instance, gateway: deps.gateway, logger: deps.logger },
    );
}
