import type { Command } from 'commander';
import type { Build } from '../../builds/builds.js';
import type { ApiClient } from '../client.js';
import { clientFor, globals, requireProject } from '../context.js';
import { UsageError } from '../errors.js';
import { printList, printObject } from '../output.js';
import { buildLogWriter } from './live-lines.js';
import { cancelExecution } from './tasks.js';

const enc = encodeURIComponent;

function buildFields(b: Build): [string, string][] {
  return [
    ['Build', b.id],
    ['Component', `${b.project}/${b.component}`],
    ['Commit', b.commit ?? '-'],
    ['Status', b.status],
    ['Image', b.image ?? '-'],
    ...(b.reason ? ([['Reason', b.reason]] as [string, string][]) : []),
    ['Steps', b.steps.map((s) => `${s.name}:${s.status}`).join(' ')],
  ];
}

/** Streams the build's log to stderr until the build ends (however it ends), then reads the build. */
async function follow(api: ApiClient, id: string): Promise<Build> {
  const out = buildLogWriter(process.stderr);
  try {
    await api.requestText(api.orgPath(`/builds/${enc(id)}/logs?follow=1`), (chunk) => out.write(chunk));
  } finally {
    out.end();
  }
  return api.request<Build>('GET', api.orgPath(`/builds/${enc(id)}`));
}

type BuildFlags = { project?: string; commit?: string; branch?: string; force?: boolean; follow?: boolean };

async function createBuild(component: string, o: BuildFlags, cmd: Command): Promise<void> {
  const api = clientFor(cmd);
  const body = {
    ...(o.commit ? { commit: o.commit } : {}),
    ...(o.branch ? { branch: o.branch } : {}),
    ...(o.force ? { force: true } : {}),
  };
  const res = await api.request<{ build: Build; reused: boolean }>(
    'POST',
    api.orgPath(`/projects/${enc(requireProject(o.project))}/components/${enc(component)}/builds`),
    body,
  );
  if (res.reused)
    process.stderr.write('This commit was built already with these settings; reusing that build.\n');
  const b = o.follow && !res.reused ? await follow(api, res.build.id) : res.build;
  printObject(globals(cmd).output, b, buildFields(b));
  if (o.follow && b.status !== 'succeeded') process.exitCode = 1;
}

function buildOptions(cmd: Command): Command {
  return cmd
    .description(
      'build a commit of a component into an image (default: the head of its branch); a built commit is reused',
    )
    .option('--project <name>', 'the component’s project (required)')
    .option('--commit <sha>', 'a full commit id')
    .option('--branch <name>', 'build the head of this branch instead of the component’s')
    .option('--force', 'build again even if this commit was built')
    .option('--follow', 'stream the build log until it ends; exit 1 if it fails');
}

/** `rondo build` / `rondo create build`, `rondo logs build`, `rondo describe build`, `rondo list builds`, `rondo cancel build`. */
export function registerBuild(program: Command): void {
  buildOptions(program.command('build <component>')).action((c: string, o: BuildFlags, cmd: Command) =>
    createBuild(c, o, cmd),
  );
  const create = program.commands.find((c) => c.name() === 'create');
  if (create)
    buildOptions(create.command('build <component>')).action((c: string, o: BuildFlags, cmd: Command) =>
      createBuild(c, o, cmd),
    );

  const logs =
    program.commands.find((c) => c.name() === 'logs') ??
    program.command('logs').description('logs of builds');
  logs
    .command('build')
    .description('the log of a build, step by step')
    .requiredOption('--build-id <id>', 'the build')
    .option('--follow', 'keep streaming until the build ends')
    .action(async (o: { buildId: string; follow?: boolean }, cmd: Command) => {
      const api = clientFor(cmd);
      const out = buildLogWriter(process.stdout);
      try {
        await api.requestText(
          api.orgPath(`/builds/${enc(o.buildId)}/logs${o.follow ? '?follow=1' : ''}`),
          (chunk) => out.write(chunk),
        );
      } finally {
        out.end();
      }
    });

  program
    .command('cancel')
    .description('cancel a queued or running build, or a running execution')
    .argument('<kind>', 'build or execution')
    .argument('<id>')
    .action(async (kind: string, id: string, _o: unknown, cmd: Command) => {
      if (kind === 'execution') return cancelExecution(id, cmd);
      if (kind !== 'build') throw new UsageError(`cancel takes build or execution (got '${kind}')`);
      const api = clientFor(cmd);
      const b = await api.request<Build>('POST', api.orgPath(`/builds/${enc(id)}/cancel`));
      printObject(globals(cmd).output, b, buildFields(b));
    });
}

/** `rondo describe build <id>` (with its logs). */
export async function describeBuild(id: string, cmd: Command): Promise<void> {
  const api = clientFor(cmd);
  const b = await api.request<Build>('GET', api.orgPath(`/builds/${enc(id)}`));
  printObject(globals(cmd).output, b, buildFields(b));
  if (globals(cmd).output === 'table')
    for (const s of b.steps) if (s.log) process.stdout.write(`--- ${s.name} (${s.status})\n${s.log}`);
}

/** `rondo list builds --project P --component C`. */
export async function listBuilds(
  project: string | undefined,
  component: string | undefined,
  cmd: Command,
): Promise<void> {
  if (!component) throw new UsageError('--component is required to list builds');
  const api = clientFor(cmd);
  const r = await api.request<{ items: Build[] }>(
    'GET',
    api.orgPath(`/projects/${enc(requireProject(project))}/components/${enc(component)}/builds`),
  );
  printList(
    globals(cmd).output,
    r.items,
    [
      { header: 'id', value: (b) => b.id },
      { header: 'commit', value: (b) => (b.commit ?? '-').slice(0, 12) },
      { header: 'status', value: (b) => b.status },
      { header: 'created', value: (b) => b.createdAt },
    ],
    r,
  );
}
