import { setTimeout as sleep } from 'node:timers/promises';
import type { Command } from 'commander';
import type { Component, Deployment, EnvironmentStatus } from '../../domain/resources.js';
import type { ApiClient } from '../client.js';
import { clientFor, globals, requireProject } from '../context.js';
import { UsageError } from '../errors.js';
import { printObject } from '../output.js';
import { addTaskOptions, taskFlags } from './tasks.js';

const enc = encodeURIComponent;

/** `--port 8080 [--endpoint-type REST] [--visibility Public,Organization]` → one endpoint. */
export function endpointFromFlags(o: {
  port?: string;
  endpointType?: string;
  visibility?: string;
  endpointName?: string;
  basePath?: string;
}) {
  if (o.port === undefined) return undefined;
  const port = Number(o.port);
  if (!Number.isInteger(port) || port < 1 || port > 65535)
    throw new UsageError(`--port takes a port number 1-65535 (got '${o.port}')`);
  return {
    port,
    ...(o.endpointName ? { name: o.endpointName } : {}),
    ...(o.endpointType ? { type: o.endpointType } : {}),
    ...(o.basePath ? { basePath: o.basePath } : {}),
    ...(o.visibility ? { visibility: o.visibility.split(',').map((v) => v.trim()) } : {}),
  };
}

export function addEndpointOptions(cmd: Command): Command {
  return cmd
    .option('--port <port>', 'the port the component serves (an endpoint)')
    .option('--endpoint-name <name>', 'endpoint name (default: the type in lower case)')
    .option('--endpoint-type <type>', 'REST, GraphQL, GRPC, WS, TCP or UDP (default REST)')
    .option('--visibility <list>', 'Project, Organization and/or Public, comma-separated (default Public)')
    .option('--base-path <path>', 'path on the service the gateway forwards to (default /)');
}

/** Per-environment lines for `describe component`: status, image, replicas, URLs. */
export function environmentLines(items: EnvironmentStatus[]): string {
  const lines: string[] = [];
  for (const e of items) {
    const a = e.active;
    const latest = e.latest && e.latest.id !== a?.id ? ` (latest ${e.latest.id}: ${e.latest.status})` : '';
    const state = !a
      ? 'not deployed'
      : a.task
        ? `${a.status} ${a.image}, ${a.task.schedule ? `runs on ${a.task.schedule.cron} (${a.task.schedule.timezone})` : 'runs on demand'}, concurrency ${a.task.concurrencyPolicy}, timeout ${a.task.timeoutSeconds} s`
        : `${a.status} ${a.image}, ${e.replicas.running}/${e.replicas.desired} ready, ${e.replicas.restarts} restarts`;
    const name = a?.name ? ` ${a.name}` : '';
    lines.push(`  ${e.environment}:${name} ${state}${latest}`);
    for (const u of e.urls) lines.push(`    ${u.visibility.padEnd(12)} ${u.url}`);
    const p = e.pendingConfig;
    if (a && p.added.length + p.changed.length + p.removed.length > 0)
      lines.push(
        `    pending config (deploy to apply): ${[...p.added.map((k) => `+${k}`), ...p.changed.map((k) => `~${k}`), ...p.removed.map((k) => `-${k}`)].join(' ')}`,
      );
    for (const ev of e.events.slice(0, 3)) {
      const about = ev.deployment !== a?.name ? ` (${ev.deployment})` : '';
      lines.push(`    event: ${ev.createdAt} ${ev.kind}${about}: ${ev.message}`);
    }
    if (e.latest?.status === 'failed' && e.latest.reason)
      lines.push(`    last failure: ${e.latest.reason.split('\n')[0]}`);
  }
  return lines.join('\n');
}

/** Prints a deployment (after waiting for its rollout with `--wait`); a failed rollout exits 1. */
export async function printDeployment(cmd: Command, api: ApiClient, created: Deployment, wait?: boolean) {
  const d = wait ? await waitFor(api, created.id) : created;
  printObject(globals(cmd).output, d, [
    ['Deployment', d.name ?? d.id],
    ['Id', d.id],
    ['Component', `${d.project}/${d.component}`],
    ['Environment', d.environment],
    ['Release', d.release ?? '-'],
    ['Image', d.image],
    ['Commit', d.commit ?? '-'],
    ...(d.task
      ? ([
          [
            'Schedule',
            d.task.schedule ? `${d.task.schedule.cron} (${d.task.schedule.timezone})` : 'on demand',
          ],
          ['Task', `concurrency ${d.task.concurrencyPolicy}, timeout ${d.task.timeoutSeconds} s`],
        ] as [string, string][])
      : ([['Replicas', String(d.replicas)]] as [string, string][])),
    ['Limits', describeLimits(d.resources)],
    ['Status', d.status],
    ...(d.reason ? ([['Reason', d.reason]] as [string, string][]) : []),
  ]);
  if (wait && d.status === 'failed') process.exitCode = 1;
}

async function waitFor(api: ApiClient, id: string): Promise<Deployment> {
  for (;;) {
    const d = await api.request<Deployment>('GET', api.orgPath(`/deployments/${enc(id)}`));
    if (d.status !== 'pending' && d.status !== 'rolling-out') return d;
    process.stderr.write(`  ${d.status}…\n`);
    await sleep(1000);
  }
}

export function registerDeploy(program: Command): void {
  const deploy = program
    .command('deploy <component>')
    .alias('create-deployment')
    .description('deploy an image to an environment (zero downtime, behind readiness)')
    .option('--project <name>', 'the component’s project (required)')
    .requiredOption('--env <environment>', 'target environment')
    .option(
      '--build-id <id>',
      'a succeeded build of this component (default: what the environment runs, else the newest build)',
    )
    .option('--image <ref>', 'image to deploy (default: the component’s image)')
    .option('--replicas <n>', 'replicas, 0-20 (default 1)')
    .option('--memory <MiB>', 'memory limit per replica in MiB (default: what the environment runs)')
    .option('--cpu <millicores>', 'CPU limit per replica in millicores, 1000 = one core')
    .option('--wait', 'wait until the rollout finishes; exit 1 if it fails');
  addTaskOptions(deploy).action(
    async (
      component: string,
      o: {
        project?: string;
        env: string;
        image?: string;
        buildId?: string;
        replicas?: string;
        memory?: string;
        cpu?: string;
        wait?: boolean;
        cron?: string;
        timezone?: string;
        concurrency?: string;
        timeout?: string;
        startingDeadline?: string;
      },
      cmd: Command,
    ) => {
      const api = clientFor(cmd);
      const project = requireProject(o.project);
      const replicas = o.replicas === undefined ? undefined : Number(o.replicas);
      if (replicas !== undefined && !Number.isInteger(replicas))
        throw new UsageError('--replicas takes a whole number 0-20');
      const body = {
        environment: o.env,
        ...(o.image ? { image: o.image } : {}),
        ...(o.buildId ? { buildId: o.buildId } : {}),
        ...(replicas === undefined ? {} : { replicas }),
        ...resourceFlags(o),
        ...taskFlags(o),
      };
      const d = await api.request<Deployment>(
        'POST',
        api.orgPath(`/projects/${enc(project)}/components/${enc(component)}/deployments`),
        body,
      );
      await printDeployment(cmd, api, d, o.wait);
    },
  );

  const endpoints = program
    .command('endpoints')
    .description('the endpoints of a component (image components have no descriptor)');
  addEndpointOptions(
    endpoints
      .command('set <component>')
      .description('replace the component’s endpoints with one endpoint; the next deployment carries it')
      .option('--project <name>', 'the component’s project (required)'),
  ).action(async (component: string, o: Record<string, string | undefined>, cmd: Command) => {
    const ep = endpointFromFlags(o);
    if (!ep) throw new UsageError('--port is required');
    const api = clientFor(cmd);
    const c = await api.request<Component>(
      'PUT',
      api.orgPath(`/projects/${enc(requireProject(o.project))}/components/${enc(component)}/endpoints`),
      {
        endpoints: [ep],
      },
    );
    printObject(
      globals(cmd).output,
      c.endpoints,
      c.endpoints.map((e) => [e.name, `${e.type} port ${e.port} ${e.basePath} (${e.visibility.join(', ')})`]),
    );
  });
}

/** `--memory`/`--cpu` as the API's `resources`; the API checks the ranges and names the field. */
function resourceFlags(o: { memory?: string; cpu?: string }): { resources?: Record<string, number> } {
  const whole = (flag: string, v: string | undefined) => {
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!/^\d+$/.test(v.trim()) || !Number.isSafeInteger(n))
      throw new UsageError(`${flag} takes a whole number`);
    return n;
  };
  const memoryMiB = whole('--memory', o.memory);
  const cpuMillicores = whole('--cpu', o.cpu);
  if (memoryMiB === undefined && cpuMillicores === undefined) return {};
  return {
    resources: {
      ...(memoryMiB === undefined ? {} : { memoryMiB }),
      ...(cpuMillicores === undefined ? {} : { cpuMillicores }),
    },
  };
}

function describeLimits(r: Deployment['resources']): string {
  const parts = [
    ...(r?.memoryMiB ? [`memory ${r.memoryMiB} MiB`] : []),
    ...(r?.cpuMillicores ? [`CPU ${r.cpuMillicores}m`] : []),
  ];
  return parts.length ? parts.join(', ') : 'none';
}
