import type { Command } from 'commander';
import type { ApprovalRequest, Deployment } from '../../domain/resources.js';
import type { ApiClient } from '../client.js';
import { clientFor, globals, requireProject } from '../context.js';
import { UsageError } from '../errors.js';
import { printList, printObject } from '../output.js';
import { printDeployment } from './deploy.js';

const enc = encodeURIComponent;

const componentPath = (api: ApiClient, project: string, component: string, rest: string) =>
  api.orgPath(`/projects/${enc(project)}/components/${enc(component)}/${rest}`);

function printRequest(cmd: Command, r: ApprovalRequest): void {
  printObject(globals(cmd).output, r, [
    ['Approval request', r.id],
    ['Component', `${r.project}/${r.component}`],
    ['Promote', `release ${r.release}: ${r.from} → ${r.environment}`],
    ['Status', r.status],
    ['Approvals', `${r.approvals} of ${r.required}`],
    ['Requested by', r.requestedBy],
    ...(r.comment ? ([['Comment', r.comment]] as [string, string][]) : []),
    ...r.decisions.map(
      (d) => [d.decision, `${d.user}${d.comment ? `: ${d.comment}` : ''}`] as [string, string],
    ),
    ...(r.deployment ? ([['Deployment', r.deployment]] as [string, string][]) : []),
  ]);
}

export async function listDeployments(
  project: string | undefined,
  component: string | undefined,
  env: string | undefined,
  cmd: Command,
) {
  if (!component) throw new UsageError('--component is required to list deployments');
  const api = clientFor(cmd);
  const q = env ? `?environment=${enc(env)}` : '';
  const r = await api.request<{ items: Deployment[] }>(
    'GET',
    componentPath(api, requireProject(project), component, `deployments${q}`),
  );
  printList(
    globals(cmd).output,
    r.items,
    [
      { header: 'name', value: (d) => d.name ?? d.id },
      { header: 'environment', value: (d) => d.environment },
      { header: 'status', value: (d) => d.status },
      { header: 'action', value: (d) => d.action ?? '-' },
      { header: 'image', value: (d) => d.image.replace(/^.*@sha256:(.{12}).*$/, 'sha256:$1') },
      { header: 'commit', value: (d) => (d.commit ?? '-').slice(0, 12) },
      { header: 'config rev', value: (d) => String(d.configRevision ?? '-') },
      { header: 'by', value: (d) => d.createdBy ?? '-' },
      { header: 'created', value: (d) => d.createdAt },
    ],
    r,
  );
}

export async function listApprovals(status: string | undefined, component: string | undefined, cmd: Command) {
  const api = clientFor(cmd);
  const q = new URLSearchParams();
  if (status) q.set('status', status);
  if (component) q.set('component', component);
  const r = await api.request<{ items: ApprovalRequest[] }>(
    'GET',
    api.orgPath(`/approvals${q.size ? `?${q}` : ''}`),
  );
  printList(
    globals(cmd).output,
    r.items,
    [
      { header: 'id', value: (a) => a.id },
      { header: 'component', value: (a) => `${a.project}/${a.component}` },
      { header: 'release', value: (a) => a.release },
      { header: 'to', value: (a) => a.environment },
      { header: 'status', value: (a) => a.status },
      { header: 'approvals', value: (a) => `${a.approvals}/${a.required}` },
      { header: 'requested by', value: (a) => a.requestedBy },
    ],
    r,
  );
}

/** promote, rollback, redeploy, approve, reject, approval cancel, admin rotate-master-key. */
export function registerRelease(program: Command): void {
  program
    .command('promote <component>')
    .description(
      'promote the release active in one environment to the next (same image, the target’s config)',
    )
    .option('--project <name>', 'the component’s project (required)')
    .option('--from <environment>', 'default: the first environment of the pipeline')
    .option('--to <environment>', 'default: the environment after --from')
    .option('--force', 'admins: skip pipeline order')
    .option('--comment <text>', 'for the approval request, when the target needs one')
    .option('--wait', 'wait until the rollout finishes; exit 1 if it fails')
    .action(
      async (
        component: string,
        o: {
          project?: string;
          from?: string;
          to?: string;
          force?: boolean;
          comment?: string;
          wait?: boolean;
        },
        cmd: Command,
      ) => {
        const api = clientFor(cmd);
        const r = await api.request<{ deployment?: Deployment; approvalRequest?: ApprovalRequest }>(
          'POST',
          componentPath(api, requireProject(o.project), component, 'promotions'),
          {
            ...(o.from ? { from: o.from } : {}),
            ...(o.to ? { to: o.to } : {}),
            ...(o.force ? { force: true } : {}),
            ...(o.comment ? { comment: o.comment } : {}),
          },
        );
        if (r.deployment) return printDeployment(cmd, api, r.deployment, o.wait);
        if (globals(cmd).output === 'table')
          process.stderr.write('The target environment needs approval; a request was created.\n');
        printRequest(cmd, r.approvalRequest!);
      },
    );

  for (const redeploy of [false, true]) {
    const c = program
      .command(`${redeploy ? 'redeploy' : 'rollback'} <component>`)
      .description(
        redeploy
          ? 'the active release and config again, on fresh replicas'
          : 'make an earlier deployment (exact image and config revision) active again; default: the previous one',
      )
      .option('--project <name>', 'the component’s project (required)')
      .requiredOption('--env <environment>', 'the environment')
      .option('--wait', 'wait until the rollout finishes; exit 1 if it fails');
    if (!redeploy) c.option('--to <deployment>', 'a deployment name or id (rondo list deployments)');
    c.action(
      async (
        component: string,
        o: { project?: string; env: string; to?: string; wait?: boolean },
        cmd: Command,
      ) => {
        const api = clientFor(cmd);
        const d = await api.request<Deployment>(
          'POST',
          componentPath(api, requireProject(o.project), component, redeploy ? 'redeployments' : 'rollbacks'),
          { environment: o.env, ...(o.to ? { to: o.to } : {}) },
        );
        await printDeployment(cmd, api, d, o.wait);
      },
    );
  }

  for (const verdict of ['approve', 'reject'] as const) {
    program
      .command(`${verdict} <request>`)
      .description(`${verdict} a promotion request (rondo list approvals)`)
      .option('--comment <text>', 'why')
      .action(async (id: string, o: { comment?: string }, cmd: Command) => {
        const api = clientFor(cmd);
        printRequest(
          cmd,
          await api.request<ApprovalRequest>(
            'POST',
            api.orgPath(`/approvals/${enc(id)}/${verdict}`),
            o.comment ? { comment: o.comment } : {},
          ),
        );
      });
  }
  program
    .command('approval')
    .description('approval requests')
    .command('cancel <request>')
    .description('withdraw your own request')
    .action(async (id: string, _o: unknown, cmd: Command) => {
      const api = clientFor(cmd);
      printRequest(
        cmd,
        await api.request<ApprovalRequest>('POST', api.orgPath(`/approvals/${enc(id)}/cancel`), {}),
      );
    });

  program
    .command('admin')
    .description('platform administration')
    .command('rotate-master-key')
    .description('re-wrap every data key with a new master key, in one transaction, without downtime')
    .action(async (_o: unknown, cmd: Command) => {
      const api = clientFor(cmd);
      const r = await api.request<{ keyId: string; rewrapped: number }>(
        'POST',
        '/admin/master-key/rotate',
        {},
      );
      printObject(globals(cmd).output, r, [
        ['Master key', r.keyId],
        ['Data keys re-wrapped', String(r.rewrapped)],
      ]);
    });
}
