import { setTimeout as sleep } from 'node:timers/promises';
import type { Command } from 'commander';
import type { Execution } from '../../domain/resources.js';
import type { ApiClient } from '../client.js';
import { clientFor, globals, requireProject } from '../context.js';
import { UsageError } from '../errors.js';
import { printList, printObject } from '../output.js';

const enc = encodeURIComponent;

function executionFields(x: Execution): [string, string][] {
  return [
    ['Execution', x.id],
    ['Component', `${x.project}/${x.component}`],
    ['Environment', x.environment],
    ['Status', x.status],
    ...(x.reason ? ([['Reason', x.reason]] as [string, string][]) : []),
    ['Exit code', x.exitCode === null ? '-' : String(x.exitCode)],
    ['Trigger', `${x.trigger} by ${x.triggeredBy} at ${x.triggeredAt}`],
    [
      'Revision',
      `${x.revision.deployment ?? x.revision.deploymentId} (commit ${x.revision.commit?.slice(0, 12) ?? '-'})`,
    ],
    ['Arguments', x.args.length ? JSON.stringify(x.args) : '-'],
    ['Duration', x.durationMs === null ? '-' : `${(x.durationMs / 1000).toFixed(1)} s`],
  ];
}

/** The process exit code a finished execution stands for: its own, else 1 (124 for a timeout, as timeout(1)). */
export function exitCodeOf(x: Execution): number {
  if (x.status === 'succeeded') return 0;
  if (x.status === 'timed-out') return 124;
  return x.exitCode !== null && x.exitCode !== 0 ? x.exitCode : 1;
}

async function waitEnded(api: ApiClient, id: string): Promise<Execution> {
  for (let pause = 20; ; pause = Math.min(pause * 2, 500)) {
    const x = await api.request<Execution>('GET', api.orgPath(`/executions/${enc(id)}`));
    if (x.status !== 'running') return x;
    await sleep(pause);
  }
}

/** `rondo run`, `rondo executions`, `rondo logs execution`, `rondo schedule suspend|resume` (§8). */
export function registerTasks(program: Command): void {
  program
    .command('run <component> [args...]')
    .description(
      'run a task now; arguments after -- are appended to the program’s own (each one word, never read by a shell)',
    )
    .option('--project <name>', 'the component’s project (required)')
    .requiredOption('--env <environment>', 'an environment the task is deployed in')
    .option('--follow', 'stream the logs and exit with the task’s exit code')
    .action(
      async (
        component: string,
        args: string[],
        o: { project?: string; env: string; follow?: boolean },
        cmd: Command,
      ) => {
        const api = clientFor(cmd);
        const project = requireProject(o.project);
        const x = await api.request<Execution>(
          'POST',
          api.orgPath(`/projects/${enc(project)}/components/${enc(component)}/executions`),
          { environment: o.env, args, trigger: 'manual' },
        );
        if (!o.follow) return printObject(globals(cmd).output, x, executionFields(x));
        process.stderr.write(`execution ${x.id}\n`);
        await api.requestText(api.orgPath(`/executions/${enc(x.id)}/logs?follow=1`), (chunk) =>
          process.stdout.write(chunk),
        );
        const ended = await waitEnded(api, x.id);
        if (ended.status !== 'succeeded')
          process.stderr.write(
            `execution ${ended.id} ${ended.status}${ended.reason ? `: ${ended.reason}` : ''}\n`,
          );
        process.exitCode = exitCodeOf(ended);
      },
    );

  program
    .command('executions <component>')
    .description('a task’s executions, newest first, and the counts of the last 30 days')
    .option('--project <name>', 'the component’s project (required)')
    .option('--env <environment>', 'only this environment')
    .option('--status <status>', 'running, succeeded, failed, timed-out, cancelled, skipped or missed')
    .option('--since <when>', 'an ISO time or a duration back from now: 30m, 6h, 7d')
    .option('--limit <n>', 'at most this many (default 50)')
    .action(
      async (
        component: string,
        o: { project?: string; env?: string; status?: string; since?: string; limit?: string },
        cmd: Command,
      ) => {
        const api = clientFor(cmd);
        const q = new URLSearchParams();
        if (o.env) q.set('environment', o.env);
        if (o.status) q.set('status', o.status);
        if (o.since) q.set('since', o.since);
        if (o.limit) q.set('limit', o.limit);
        const r = await api.request<{ items: Execution[]; last30Days: Record<string, number> }>(
          'GET',
          api.orgPath(
            `/projects/${enc(requireProject(o.project))}/components/${enc(component)}/executions?${q}`,
          ),
        );
        printList(
          globals(cmd).output,
          r.items,
          [
            { header: 'id', value: (x) => x.id },
            { header: 'env', value: (x) => x.environment },
            { header: 'status', value: (x) => x.status },
            { header: 'exit', value: (x) => (x.exitCode === null ? '-' : String(x.exitCode)) },
            { header: 'trigger', value: (x) => `${x.trigger}/${x.triggeredBy}` },
            { header: 'triggered', value: (x) => x.triggeredAt },
            { header: 'duration', value: (x) => (x.durationMs === null ? '-' : `${x.durationMs} ms`) },
            { header: 'revision', value: (x) => x.revision.deployment ?? '-' },
          ],
          r,
        );
        if (globals(cmd).output === 'table') {
          const counts = Object.entries(r.last30Days).map(([s, n]) => `${s} ${n}`);
          process.stdout.write(`last 30 days: ${counts.length ? counts.join(', ') : 'no executions'}\n`);
        }
      },
    );

  const logs =
    program.commands.find((c) => c.name() === 'logs') ?? program.command('logs').description('logs');
  logs
    .command('execution <id>')
    .description('the output of an execution (kept after its container is gone)')
    .option('--follow', 'keep streaming until the execution ends')
    .action(async (id: string, o: { follow?: boolean }, cmd: Command) => {
      const api = clientFor(cmd);
      await api.requestText(
        api.orgPath(`/executions/${enc(id)}/logs${o.follow ? '?follow=1' : ''}`),
        (chunk) => process.stdout.write(chunk),
      );
    });

  const schedule = program.command('schedule').description('suspend or resume a scheduled task');
  for (const [verb, suspended] of [
    ['suspend', true],
    ['resume', false],
  ] as const)
    schedule
      .command(`${verb} <component>`)
      .description(
        suspended
          ? 'stop starting scheduled runs in an environment (running ones go on)'
          : 'start scheduled runs again from now (what came due while suspended is not made up)',
      )
      .option('--project <name>', 'the component’s project (required)')
      .requiredOption('--env <environment>', 'the environment')
      .action(async (component: string, o: { project?: string; env: string }, cmd: Command) => {
        const api = clientFor(cmd);
        const r = await api.request<{
          suspended: boolean;
          cron: string;
          timezone: string;
          nextRunAt: string | null;
        }>(
          'PUT',
          api.orgPath(
            `/projects/${enc(requireProject(o.project))}/components/${enc(component)}/schedules/${enc(o.env)}`,
          ),
          { suspended },
        );
        printObject(globals(cmd).output, r, [
          ['Schedule', `${r.cron} (${r.timezone})`],
          ['Suspended', String(r.suspended)],
          ['Next run', r.nextRunAt ?? '-'],
        ]);
      });
}

/** `rondo cancel execution <id>`. */
export async function cancelExecution(id: string, cmd: Command): Promise<void> {
  const api = clientFor(cmd);
  const x = await api.request<Execution>('POST', api.orgPath(`/executions/${enc(id)}/cancel`));
  printObject(globals(cmd).output, x, executionFields(x));
}

/** `--cron`, `--timezone`, `--concurrency`, `--timeout`, `--starting-deadline` → the deploy body's task fields. */
export function taskFlags(o: {
  cron?: string;
  timezone?: string;
  concurrency?: string;
  timeout?: string;
  startingDeadline?: string;
}): Record<string, unknown> {
  const seconds = (v: string | undefined, flag: string) => {
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0) throw new UsageError(`${flag} takes whole seconds (got '${v}')`);
    return n;
  };
  const body: Record<string, unknown> = {
    cron: o.cron,
    timezone: o.timezone,
    concurrencyPolicy: o.concurrency,
    timeoutSeconds: seconds(o.timeout, '--timeout'),
    startingDeadlineSeconds: seconds(o.startingDeadline, '--starting-deadline'),
  };
  return Object.fromEntries(Object.entries(body).filter(([, v]) => v !== undefined));
}

export function addTaskOptions(cmd: Command): Command {
  return cmd
    .option('--cron <expression>', 'scheduled tasks: 5-field cron expression, e.g. "0 3 * * *"')
    .option('--timezone <zone>', 'scheduled tasks: IANA time zone (default UTC)')
    .option('--concurrency <policy>', 'tasks: forbid (default), allow or replace')
    .option('--timeout <seconds>', 'tasks: stop a run after this long (default 300)')
    .option(
      '--starting-deadline <seconds>',
      'scheduled tasks: how late a run missed in downtime may start (300)',
    );
}
