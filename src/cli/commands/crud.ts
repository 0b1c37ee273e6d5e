import { readFileSync } from 'node:fs';
import { Argument, type Command, Option } from 'commander';
import type { Page } from '../../control/pagination.js';
import type {
  AccessToken,
  Component,
  DataPlane,
  Deployment,
  Environment,
  EnvironmentStatus,
  Member,
  Organization,
  Pipeline,
  Project,
  User,
} from '../../domain/resources.js';
import { clientFor, collect, globals, parseKeyValues, requireProject } from '../context.js';
import { UsageError } from '../errors.js';
import { printList, printObject } from '../output.js';
import { describeBuild, listBuilds } from './build.js';
import { addEndpointOptions, endpointFromFlags, environmentLines } from './deploy.js';
import { listApprovals, listDeployments } from './release.js';
import {
  componentColumns,
  componentFields,
  conditionColumns,
  dataPlaneFields,
  deploymentFields,
  environmentColumns,
  environmentFields,
  pipelineColumns,
  projectColumns,
  projectFields,
} from './resources.js';

const enc = encodeURIComponent;

export function registerCreate(program: Command): void {
  const create = program.command('create').description('create a resource');

  create
    .command('project <name>')
    .description('create a project (uses the organization default pipeline unless --pipeline)')
    .option('--display-name <text>')
    .option('--description <text>')
    .option('--pipeline <name>')
    .action(
      async (
        name: string,
        opts: { displayName?: string; description?: string; pipeline?: string },
        cmd: Command,
      ) => {
        const api = clientFor(cmd);
        const project = await api.request<Project>('POST', api.orgPath('/projects'), { name, ...opts });
        printObject(globals(cmd).output, project, projectFields(project));
      },
    );

  const component = create
    .command('component <name>')
    .description('create a component from a Git repository directory, or from an existing image (--image)')
    .option('--project <name>', 'the project it belongs to (required)')
    .addOption(new Option('--type <type>', 'component type').default('service'))
    .option('--repo <url>', 'Git repository URL (https, ssh, git or file)')
    .option('--branch <name>', 'branch to build', undefined)
    .option('--path <dir>', 'component directory inside the repository')
    .option('--image <ref>', 'bring your own image instead of --repo')
    .option(
      '--build-preset <preset>',
      'dockerfile, nodejs, python, go, java, php, ruby, dotnet, static, react, angular, vue',
    )
    .option('--build-configs <k=v,...>', 'build configs for the preset (repeatable)', collect, [])
    .option('--display-name <text>')
    .option('--description <text>')
    .option('--auto-build', 'build on every push to the branch')
    .option('--auto-deploy', 'deploy every successful build to the first environment');
  addEndpointOptions(component).action(
    async (name: string, o: Record<string, string | string[] | boolean | undefined>, cmd: Command) => {
      const project = requireProject(o.project as string | undefined);
      if (!o.repo && !o.image)
        throw new UsageError('give --repo <url> (build from Git) or --image <ref> (bring your own image)');
      if (o.repo && o.image) throw new UsageError('give either --repo or --image, not both');
      const endpoint = endpointFromFlags(o as Record<string, string | undefined>);
      const source = o.image
        ? { image: o.image }
        : {
            repoUrl: o.repo,
            ...(o.branch ? { branch: o.branch } : {}),
            ...(o.path ? { path: o.path } : {}),
          };
      const body = {
        name,
        type: o.type,
        source,
        ...(o.buildPreset ? { buildPreset: o.buildPreset } : {}),
        ...((o.buildConfigs as string[]).length
          ? { buildConfigs: parseKeyValues(o.buildConfigs as string[], '--build-configs') }
          : {}),
        ...(o.displayName ? { displayName: o.displayName } : {}),
        ...(o.description ? { description: o.description } : {}),
        ...(o.autoBuild ? { autoBuild: true } : {}),
        ...(o.autoDeploy ? { autoDeploy: true } : {}),
        ...(endpoint ? { endpoints: [endpoint] } : {}),
      };
      const api = clientFor(cmd);
      const component = await api.request<Component>(
        'POST',
        api.orgPath(`/projects/${enc(project)}/components`),
        body,
      );
      printObject(globals(cmd).output, component, componentFields(component));
    },
  );

  create
    .command('env <name>')
    .alias('environment')
    .description('create an environment (admins)')
    .option('--display-name <text>')
    .option('--production', 'mark it as a production environment')
    .option('--data-plane <name>', 'data plane it runs on (default local)')
    .action(
      async (
        name: string,
        o: { displayName?: string; production?: boolean; dataPlane?: string },
        cmd: Command,
      ) => {
        const api = clientFor(cmd);
        const env = await api.request<Environment>('POST', api.orgPath('/environments'), { name, ...o });
        printObject(globals(cmd).output, env, environmentFields(env));
      },
    );

  create
    .command('dataplane <name>')
    .alias('data-plane')
    .description('register a data plane: a Docker engine or a Kubernetes cluster (admins)')
    .addOption(
      new Option('--type <type>', 'what it is').choices(['docker', 'kubernetes']).makeOptionMandatory(),
    )
    .option('--kubeconfig <file>', 'kubernetes: the kubeconfig file (stored encrypted, never shown again)')
    .option('--context <name>', "kubernetes: the kubeconfig's context (default its current-context)")
    .option('--socket <path>', 'docker: the engine socket or tcp://host:port (default the local engine)')
    .option(
      '--registry <host:port>',
      "kubernetes: where its nodes pull the platform registry's images (default the address builds push to)",
    )
    .option('--registry-user <name>', 'kubernetes: the pull credentials (with --registry-password-file)')
    .option('--registry-password-file <file>', "kubernetes: the pull password's file (stored encrypted)")
    .action(async (name: string, o: DataPlaneFlags, cmd: Command) => {
      const api = clientFor(cmd);
      const plane = await api.request<DataPlane>('POST', api.orgPath('/dataplanes'), dataPlaneBody(name, o));
      printObject(globals(cmd).output, plane, dataPlaneFields(plane));
    });

  create
    .command('pipeline <name>')
    .description('create a pipeline: the promotion order of environments (admins)')
    .requiredOption('--environments <a,b,c>', 'environment names in promotion order')
    .option('--default', 'make it the organization default')
    .action(async (name: string, o: { environments: string; default?: boolean }, cmd: Command) => {
      const api = clientFor(cmd);
      const environments = o.environments
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
      const p = await api.request<Pipeline>('POST', api.orgPath('/pipelines'), {
        name,
        environments,
        ...(o.default ? { isDefault: true } : {}),
      });
      printList(globals(cmd).output, [p], pipelineColumns, p);
    });

  create
    .command('org <name>')
    .description('create an organization (platform admins)')
    .option('--display-name <text>')
    .action(async (name: string, o: { displayName?: string }, cmd: Command) => {
      const org = await clientFor(cmd).request<Organization>('POST', '/orgs', { name, ...o });
      printObject(globals(cmd).output, org);
    });

  create
    .command('user <name>')
    .description('create a user (platform admins); then `rondo create token --user` and `rondo member set`')
    .option('--display-name <text>')
    .option('--platform-admin', 'may administer every organization')
    .action(async (name: string, o: { displayName?: string; platformAdmin?: boolean }, cmd: Command) => {
      const user = await clientFor(cmd).request<User>('POST', '/users', { name, ...o });
      printObject(globals(cmd).output, user);
    });

  create
    .command('token <name>')
    .description('create a personal access token (shown once)')
    .option('--scopes <list>', 'read,write,admin (default read,write)')
    .option('--expires-in-days <n>', 'days until it expires (default never)')
    .option('--user <name>', 'for another user (platform admins)')
    .action(
      async (name: string, o: { scopes?: string; expiresInDays?: string; user?: string }, cmd: Command) => {
        const body = {
          name,
          ...(o.scopes ? { scopes: o.scopes.split(',').map((s) => s.trim()) } : {}),
          ...(o.expiresInDays ? { expiresInDays: Number(o.expiresInDays) } : {}),
        };
        if (o.expiresInDays && !Number.isInteger(body.expiresInDays))
          throw new UsageError('--expires-in-days takes a whole number');
        const path = o.user ? `/users/${enc(o.user)}/tokens` : '/tokens';
        const created = await clientFor(cmd).request<{ token: string; info: AccessToken }>(
          'POST',
          path,
          body,
        );
        if (globals(cmd).output === 'table') {
          process.stdout.write(`${created.token}\n`);
          process.stderr.write('This token is shown once; store it now.\n');
        } else printObject(globals(cmd).output, created);
      },
    );
}

export interface DataPlaneFlags {
  type: 'docker' | 'kubernetes';
  kubeconfig?: string;
  context?: string;
  socket?: string;
  registry?: string;
  registryUser?: string;
  registryPasswordFile?: string;
}

/** A file a flag names, read, or a usage error saying why not. */
function readFlagFile(flag: string, file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT'
        ? 'no such file'
        : code === 'EACCES'
          ? 'permission denied'
          : code === 'EISDIR'
            ? 'is a directory'
            : (code ?? 'cannot be read');
    throw new UsageError(`${flag} ${file}: ${why}`);
  }
}

/** `--registry*`: where the cluster pulls, and the pull credentials (the password from a file, not argv). */
function registryOf(o: DataPlaneFlags): Record<string, string> | undefined {
  if ((o.registryUser === undefined) !== (o.registryPasswordFile === undefined))
    throw new UsageError('give --registry-user and --registry-password-file together');
  if (!o.registry) {
    if (o.registryUser !== undefined) throw new UsageError('--registry-user needs --registry <host:port>');
    return undefined;
  }
  if (o.registryUser === undefined || o.registryPasswordFile === undefined) return { address: o.registry };
  // A trailing newline (echo pw > file) is not part of the password.
  const password = readFlagFile('--registry-password-file', o.registryPasswordFile).replace(/\r?\n$/, '');
  return { address: o.registry, username: o.registryUser, password };
}

/** The body of `create dataplane`, from its flags: each type takes only its own. */
export function dataPlaneBody(name: string, o: DataPlaneFlags): Record<string, unknown> {
  if (o.type === 'docker') {
    if (o.kubeconfig || o.context || o.registry || o.registryUser || o.registryPasswordFile)
      throw new UsageError(
        '--kubeconfig, --context and --registry* are for --type kubernetes; a Docker engine takes --socket',
      );
    return { name, type: 'docker', config: o.socket ? { socketPath: o.socket } : {} };
  }
  if (o.socket)
    throw new UsageError('--socket is for --type docker; a Kubernetes cluster takes --kubeconfig');
  if (!o.kubeconfig) throw new UsageError('--type kubernetes needs --kubeconfig <file>');
  const kubeconfig = readFlagFile('--kubeconfig', o.kubeconfig);
  const registry = registryOf(o);
  return {
    name,
    type: 'kubernetes',
    config: { kubeconfig, ...(o.context ? { context: o.context } : {}), ...(registry ? { registry } : {}) },
  };
}

const LIST_KINDS = [
  'projects',
  'components',
  'environments',
  'envs',
  'pipelines',
  'dataplanes',
  'members',
  'tokens',
  'orgs',
  'users',
  'builds',
  'deployments',
  'approvals',
];

export function registerList(program: Command): void {
  program
    .command('list')
    .alias('ls')
    .description('list resources')
    .addArgument(new Argument('<kind>', 'what to list').choices(LIST_KINDS))
    .option('--project <name>', 'components of this project only')
    .option('--type <type>', 'components of this type only')
    .option('--component <name>', 'builds or deployments of this component (with --project)')
    .option('--env <environment>', 'deployments in this environment only')
    .option(
      '--status <status>',
      'approval requests with this status (pending, approved, rejected, cancelled)',
    )
    .option('--limit <n>', 'page size (default 50, at most 500)')
    .option('--cursor <cursor>', 'continue from a previous page')
    .action(
      async (
        kind: string,
        o: {
          project?: string;
          type?: string;
          limit?: string;
          cursor?: string;
          component?: string;
          env?: string;
          status?: string;
        },
        cmd: Command,
      ) => {
        const api = clientFor(cmd);
        const format = globals(cmd).output;
        const q = new URLSearchParams();
        if (o.limit) q.set('limit', o.limit);
        if (o.cursor) q.set('cursor', o.cursor);
        if (o.type) q.set('type', o.type);
        if (o.project) q.set('project', o.project);
        const qs = q.size ? `?${q}` : '';
        const pageNote = (page: Page<unknown>) => {
          if (page.nextCursor && format === 'table')
            process.stderr.write(`More results: --cursor ${page.nextCursor}\n`);
        };
        switch (kind) {
          case 'builds':
            return listBuilds(o.project, o.component, cmd);
          case 'deployments':
            return listDeployments(o.project, o.component, o.env, cmd);
          case 'approvals':
            return listApprovals(o.status, o.component, cmd);
          case 'projects': {
            const page = await api.request<Page<Project>>('GET', api.orgPath(`/projects${qs}`));
            printList(format, page.items, projectColumns, page);
            return pageNote(page);
          }
          case 'components': {
            const page = await api.request<Page<Component>>('GET', api.orgPath(`/components${qs}`));
            printList(format, page.items, componentColumns, page);
            return pageNote(page);
          }
          case 'environments':
          case 'envs': {
            const page = await api.request<Page<Environment>>('GET', api.orgPath(`/environments${qs}`));
            printList(format, page.items, environmentColumns, page);
            return pageNote(page);
          }
          case 'pipelines': {
            const page = await api.request<Page<Pipeline>>('GET', api.orgPath(`/pipelines${qs}`));
            printList(format, page.items, pipelineColumns, page);
            return pageNote(page);
          }
          case 'dataplanes': {
            const r = await api.request<{ items: DataPlane[] }>('GET', api.orgPath('/dataplanes'));
            return printList(
              format,
              r.items,
              [
                { header: 'name', value: (d) => d.name },
                { header: 'type', value: (d) => d.type },
                { header: 'environments', value: (d) => d.environments.join(',') || '-' },
              ],
              r,
            );
          }
          case 'members': {
            const r = await api.request<{ items: Member[] }>('GET', api.orgPath('/members'));
            return printList(
              format,
              r.items,
              [
                { header: 'user', value: (m) => m.user },
                { header: 'role', value: (m) => m.role },
              ],
              r,
            );
          }
          case 'tokens': {
            const r = await api.request<{ items: AccessToken[] }>('GET', '/tokens');
            const cols = [
              { header: 'id', value: (t: AccessToken) => t.id },
              { header: 'name', value: (t: AccessToken) => t.name },
              { header: 'scopes', value: (t: AccessToken) => t.scopes.join(',') },
              { header: 'expires', value: (t: AccessToken) => t.expiresAt ?? 'never' },
              { header: 'revoked', value: (t: AccessToken) => t.revokedAt ?? '-' },
            ];
            return printList(format, r.items, cols, r);
          }
          case 'orgs': {
            const r = await api.request<{ items: Organization[] }>('GET', '/orgs');
            return printList(
              format,
              r.items,
              [
                { header: 'name', value: (x) => x.name },
                { header: 'display name', value: (x) => x.displayName },
              ],
              r,
            );
          }
          default: {
            const r = await api.request<{ items: User[] }>('GET', '/users');
            return printList(
              format,
              r.items,
              [
                { header: 'name', value: (u) => u.name },
                { header: 'platform admin', value: (u) => String(u.platformAdmin) },
              ],
              r,
            );
          }
        }
      },
    );
}

export function registerDescribe(program: Command): void {
  program
    .command('describe')
    .description('show one resource in detail')
    .addArgument(
      new Argument('<kind>').choices([
        'project',
        'component',
        'env',
        'environment',
        'pipeline',
        'build',
        'deployment',
        'dataplane',
      ]),
    )
    .argument('<name>', 'its name (a deployment: its id)')
    .option('--project <name>', 'the component’s project')
    .action(async (kind: string, name: string, o: { project?: string }, cmd: Command) => {
      const api = clientFor(cmd);
      const format = globals(cmd).output;
      if (kind === 'build') return describeBuild(name, cmd);
      if (kind === 'deployment') {
        const d = await api.request<Deployment>('GET', api.orgPath(`/deployments/${enc(name)}`));
        if (format !== 'table') return printObject(format, d);
        printObject(format, d, deploymentFields(d));
        process.stdout.write('Conditions:\n');
        return printList(format, d.conditions, conditionColumns);
      }
      if (kind === 'project') {
        const p = await api.request<Project>('GET', api.orgPath(`/projects/${enc(name)}`));
        return printObject(format, p, projectFields(p));
      }
      if (kind === 'component') {
        const base = api.orgPath(`/projects/${enc(requireProject(o.project))}/components/${enc(name)}`);
        const c = await api.request<Component>('GET', base);
        // Without a data plane (RONDO_PLATFORM=off) there is no status to show.
        const status = await api
          .request<{ items: EnvironmentStatus[] }>('GET', `${base}/status`)
          .catch(() => undefined);
        if (format !== 'table') return printObject(format, { ...c, environments: status?.items ?? [] });
        printObject(format, c, componentFields(c));
        if (status) process.stdout.write(`Environments:\n${environmentLines(status.items)}\n`);
        return;
      }
      if (kind === 'dataplane') {
        const d = await api.request<DataPlane>('GET', api.orgPath(`/dataplanes/${enc(name)}`));
        return printObject(format, d, dataPlaneFields(d));
      }
      if (kind === 'pipeline') {
        const p = await api.request<Pipeline>('GET', api.orgPath(`/pipelines/${enc(name)}`));
        return printList(format, [p], pipelineColumns, p);
      }
      const e = await api.request<Environment>('GET', api.orgPath(`/environments/${enc(name)}`));
      return printObject(format, e, environmentFields(e));
    });
}

export function registerDelete(program: Command): void {
  program
    .command('delete')
    .description('delete a resource')
    .addArgument(
      new Argument('<kind>').choices([
        'project',
        'component',
        'env',
        'environment',
        'pipeline',
        'dataplane',
        'token',
        'member',
        'org',
      ]),
    )
    .argument('<name>', 'its name (a token: its id)')
    .option('--project <name>', 'the component’s project')
    .action(async (kind: string, name: string, o: { project?: string }, cmd: Command) => {
      const api = clientFor(cmd);
      const paths: Record<string, () => string> = {
        project: () => api.orgPath(`/projects/${enc(name)}`),
        component: () => api.orgPath(`/projects/${enc(requireProject(o.project))}/components/${enc(name)}`),
        env: () => api.orgPath(`/environments/${enc(name)}`),
        environment: () => api.orgPath(`/environments/${enc(name)}`),
        pipeline: () => api.orgPath(`/pipelines/${enc(name)}`),
        dataplane: () => api.orgPath(`/dataplanes/${enc(name)}`),
        token: () => `/tokens/${enc(name)}`,
        member: () => api.orgPath(`/members/${enc(name)}`),
        org: () => `/orgs/${enc(name)}`,
      };
      await api.request('DELETE', paths[kind]!());
      if (globals(cmd).output === 'table') process.stdout.write(`Deleted ${kind} ${name}.\n`);
      else printObject(globals(cmd).output, { deleted: { kind, name } });
    });
}
