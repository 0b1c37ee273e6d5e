import type { Command } from 'commander';
import { escapeControlCharacters } from '../../domain/text.js';
import type { ComponentEvent } from '../../observability/component-events.js';
import type { GatewayLogLine } from '../../observability/gateway-logs.js';
import type { RuntimeLogLine } from '../../observability/runtime-logs.js';
import type { ApiClient } from '../client.js';
import { clientFor, globals, requireProject } from '../context.js';
import { UsageError } from '../errors.js';
import { printObject } from '../output.js';

const enc = encodeURIComponent;

interface LogOptions {
  project?: string;
  env: string;
  follow?: boolean;
  since?: string;
  until?: string;
  replica?: string;
  deployment?: string;
  level?: string;
  grep?: string;
  tail: string;
  type: string;
}

type AnyLine = RuntimeLogLine | GatewayLogLine;

/** One line for a person: time, replica and deployment, level, message (controls shown escaped). */
export function formatLogLine(l: RuntimeLogLine): string {
  const level = (l.level ?? '').toUpperCase().padEnd(5);
  const stream = l.stream === 'stderr' ? ' stderr' : '';
  return `${l.timestamp} ${l.deployment}/${l.replica}${stream} ${level} ${escapeControlCharacters(l.message)}`;
}

/** One gateway log line: time, deployment, method and path, status and outcome, duration, bytes, request id. */
export function formatGatewayLine(l: GatewayLogLine): string {
  const where = l.deployment ?? '-';
  return `${l.timestamp} ${where} ${escapeControlCharacters(l.method)} ${escapeControlCharacters(l.path)} ${l.status} ${l.outcome} ${l.durationMs.toFixed(1)}ms ${l.bytes}B ${escapeControlCharacters(l.requestId)}`;
}

const formatAny = (l: AnyLine) => ('stream' in l ? formatLogLine(l) : formatGatewayLine(l));

function query(o: LogOptions, extra: Record<string, string>): string {
  const q = new URLSearchParams({ environment: o.env, ...extra });
  if (o.type === 'gateway') q.set('type', 'gateway');
  for (const k of ['since', 'until', 'replica', 'deployment', 'level', 'grep'] as const) {
    const v = o[k];
    if (v !== undefined) q.set(k, v);
  }
  return q.toString();
}

/** Prints lines of an NDJSON stream as they come. */
async function follow(api: ApiClient, path: string, print: (l: AnyLine) => void): Promise<void> {
  let partial = '';
  await api.requestText(path, (chunk) => {
    const lines = (partial + chunk).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) if (line.trim()) print(JSON.parse(line) as AnyLine);
  });
}

/** `rondo logs component <c>`: runtime logs of services, web apps and API proxies (G3). */
export function registerLogs(program: Command): void {
  const logs =
    program.commands.find((c) => c.name() === 'logs') ?? program.command('logs').description('logs');
  logs
    .command('component <component>')
    .description(
      'what a component’s replicas printed in an environment (kept after they are replaced); task runs: rondo logs execution',
    )
    .option('--project <name>', 'the component’s project (required)')
    .requiredOption('--env <environment>', 'the environment')
    .option('--follow', 'keep printing new lines as they come')
    .option('--since <time>', 'from a time (2026-11-30T10:00:00Z) or a duration back from now (30m, 6h, 7d)')
    .option('--until <time>', 'up to a time or a duration back from now')
    .option('--replica <n>', 'only this replica (0, 1, …)')
    .option('--deployment <name>', 'only this deployment, or this release’s deployments')
    .option('--level <levels>', 'only these levels: error, warn, info, debug (comma-separated)')
    .option('--grep <text>', 'only lines containing this text (any case)')
    .option('--tail <n>', 'without --since: how many of the newest lines', '100')
    .option(
      '--type <type>',
      'application (what the replicas printed) or gateway (the requests the gateway answered)',
      'application',
    )
    .action(async (component: string, o: LogOptions, cmd: Command) => {
      const project = requireProject(o.project);
      if (o.type !== 'application' && o.type !== 'gateway')
        throw new UsageError('--type must be application or gateway');
      const tail = Number(o.tail);
      if (!Number.isInteger(tail) || tail < 1 || tail > 5000)
        throw new UsageError('--tail must be a number from 1 to 5000');
      const api = clientFor(cmd);
      const format = globals(cmd).output;
      const base = api.orgPath(`/projects/${enc(project)}/components/${enc(component)}/logs`);
      const print = (l: AnyLine) =>
        process.stdout.write(format === 'table' ? `${formatAny(l)}\n` : `${JSON.stringify(l)}\n`);
      if (o.follow) {
        await follow(api, `${base}?${query(o, { follow: '1', limit: String(tail) })}`, print);
        return;
      }
      const items: AnyLine[] = [];
      if (o.since === undefined) {
        // The newest lines: one backward page.
        const page = await api.request<{ items: AnyLine[] }>(
          'GET',
          `${base}?${query(o, { limit: String(tail) })}`,
        );
        items.push(...page.items);
      } else {
        // The whole range, oldest first, page by page.
        let cursor: string | null = null;
        do {
          const extra: Record<string, string> = { direction: 'forward', limit: '1000' };
          if (cursor) extra.cursor = cursor;
          const page: { items: AnyLine[]; nextCursor: string | null } = await api.request(
            'GET',
            `${base}?${query(o, extra)}`,
          );
          if (format === 'table') for (const l of page.items) print(l);
          else items.push(...page.items);
          cursor = page.nextCursor;
        } while (cursor);
        if (format === 'table') return;
      }
      if (format === 'table') for (const l of items) print(l);
      else printObject(format, items);
    });

  program
    .command('events <component>')
    .description(
      'deployment events: rollout failures, liveness restarts, crashes with their last lines, crash loops, OOM kills',
    )
    .option('--project <name>', 'the component’s project (required)')
    .option('--env <environment>', 'only this environment')
    .option('--limit <n>', 'how many, newest first', '50')
    .action(async (component: string, o: { project?: string; env?: string; limit: string }, cmd: Command) => {
      const project = requireProject(o.project);
      const api = clientFor(cmd);
      const q = new URLSearchParams({ limit: o.limit, ...(o.env ? { environment: o.env } : {}) });
      const r = await api.request<{ items: ComponentEvent[] }>(
        'GET',
        api.orgPath(`/projects/${enc(project)}/components/${enc(component)}/events?${q}`),
      );
      const format = globals(cmd).output;
      if (format !== 'table') return printObject(format, r);
      if (r.items.length === 0) return void process.stdout.write('No events.\n');
      // An event's message may end with the replica's last log lines: shown indented below it.
      for (const e of r.items)
        process.stdout.write(
          `${e.createdAt}  ${e.environment}  ${e.deployment}  ${e.kind}: ${escapeControlCharacters(e.message).replaceAll('\\n', '\n    ')}\n`,
        );
    });
}
