import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { ALERT_KINDS } from '../../domain/alerts.js';
import type { AlertIncidentView } from '../../observability/alert-history.js';
import type { AlertRuleView } from '../../observability/alert-rules.js';
import { clientFor, collect, globals, requireProject } from '../context.js';
import { UsageError } from '../errors.js';
import { printList, printObject } from '../output.js';

const enc = encodeURIComponent;

interface CreateOptions {
  project?: string;
  env: string;
  kind: string;
  percentile?: string;
  thresholdMs?: string;
  period?: string;
  requestsPerMinute?: string;
  resource?: string;
  threshold?: string;
  phrase?: string;
  count?: string;
  interval?: string;
  codes?: string;
  events?: string;
  webhook?: string;
  webhookSecretFile?: string;
  email: string[];
  disabled?: boolean;
}

const number = (flag: string, v: string): number => {
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n)) throw new UsageError(`${flag} takes a number (got '${v}')`);
  return n;
};

/** The kind's params from the flags given; the server checks which a kind takes (400 naming the field). */
export function paramsOf(o: CreateOptions): Record<string, unknown> {
  const p: Record<string, unknown> = {};
  const numeric: [keyof CreateOptions, string, string][] = [
    ['percentile', 'percentile', '--percentile'],
    ['thresholdMs', 'thresholdMs', '--threshold-ms'],
    ['period', 'periodMinutes', '--period'],
    ['requestsPerMinute', 'requestsPerMinute', '--requests-per-minute'],
    ['threshold', 'threshold', '--threshold'],
    ['count', 'count', '--count'],
    ['interval', 'intervalMinutes', '--interval'],
  ];
  for (const [opt, key, flag] of numeric) {
    const v = o[opt];
    if (typeof v === 'string') p[key] = number(flag, v);
  }
  if (o.resource !== undefined) p.resource = o.resource;
  if (o.phrase !== undefined) p.phrase = o.phrase;
  if (o.codes !== undefined) p.codes = o.codes.split(',').map((c) => number('--codes', c));
  if (o.events !== undefined) p.events = o.events.split(',').map((e) => e.trim());
  return p;
}

async function readSecret(file: string | undefined): Promise<string> {
  if (file) return readFileSync(file, 'utf8').trim();
  if (process.stdin.isTTY)
    throw new UsageError(
      '--webhook needs its signing secret: --webhook-secret-file PATH, or pipe it on stdin (never on the command line)',
    );
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8').trim();
}

/** `rondo alerts create|list|delete|history|enable|disable` (G3). */
export function registerAlerts(program: Command): void {
  const alerts = program.command('alerts').description('alert rules of a component and their history');
  const base = (project: string | undefined, component: string) =>
    `/projects/${enc(requireProject(project))}/components/${enc(component)}/alerts`;

  alerts
    .command('create <component> <name>')
    .description(
      'create an alert rule in an environment (at most 10 per component); kinds: latency, traffic, resource, log, build-failure, status-code, system',
    )
    .option('--project <name>', 'the component’s project (required)')
    .requiredOption('--env <environment>', 'the environment')
    .requiredOption('--kind <kind>', ALERT_KINDS.join(' | '))
    .option('--percentile <p>', 'latency: 50, 90, 95 or 99 (default 99)')
    .option('--threshold-ms <ms>', 'latency: fire above this many milliseconds')
    .option('--period <minutes>', 'latency, traffic, resource, system: over this many minutes (default 5)')
    .option('--requests-per-minute <n>', 'traffic: fire above this rate')
    .option('--resource <cpu|memory>', 'resource: which one')
    .option('--threshold <n>', 'resource: millicores (cpu) or MiB (memory)')
    .option('--phrase <text>', 'log: the text to look for (any case)')
    .option('--count <n>', 'log, status-code: fire at this many within the interval')
    .option('--interval <minutes>', 'log, status-code: the window (default 5)')
    .option('--codes <codes>', 'status-code: HTTP codes, comma-separated (500,502)')
    .option('--events <events>', 'system: crash, oom (comma-separated; default both)')
    .option('--webhook <url>', 'POST signed JSON here (http or https)')
    .option('--webhook-secret-file <path>', 'the signing secret (else read from stdin); never shown again')
    .option('--email <address>', 'send email here (repeat, at most 5)', collect, [])
    .option('--disabled', 'create it turned off')
    .action(async (component: string, name: string, o: CreateOptions, cmd: Command) => {
      const path = base(o.project, component);
      const body: Record<string, unknown> = {
        name,
        environment: o.env,
        kind: o.kind,
        params: paramsOf(o),
        ...(o.email.length ? { emails: o.email } : {}),
        ...(o.disabled ? { enabled: false } : {}),
      };
      if (o.webhook) body.webhook = { url: o.webhook, secret: await readSecret(o.webhookSecretFile) };
      const api = clientFor(cmd);
      const rule = await api.request<AlertRuleView>('POST', api.orgPath(path), body);
      printRule(cmd, rule);
    });

  alerts
    .command('list <component>')
    .description('the component’s alert rules and whether each is firing')
    .option('--project <name>', 'the component’s project (required)')
    .option('--env <environment>', 'only this environment')
    .action(async (component: string, o: { project?: string; env?: string }, cmd: Command) => {
      const api = clientFor(cmd);
      const q = o.env ? `?environment=${enc(o.env)}` : '';
      const r = await api.request<{ items: AlertRuleView[] }>(
        'GET',
        api.orgPath(`${base(o.project, component)}${q}`),
      );
      printList(
        globals(cmd).output,
        r.items,
        [
          { header: 'name', value: (a) => a.name },
          { header: 'environment', value: (a) => a.environment },
          { header: 'kind', value: (a) => a.kind },
          { header: 'params', value: (a) => JSON.stringify(a.params) },
          { header: 'enabled', value: (a) => (a.enabled ? 'yes' : 'no') },
          { header: 'state', value: (a) => a.state },
          { header: 'notify', value: (a) => [a.webhook?.url, ...a.emails].filter(Boolean).join(', ') },
        ],
        r,
      );
    });

  for (const [verb, enabled] of [
    ['enable', true],
    ['disable', false],
  ] as const)
    alerts
      .command(`${verb} <component> <name>`)
      .description(enabled ? 'turn a rule on' : 'turn a rule off (a firing rule resolves)')
      .option('--project <name>', 'the component’s project (required)')
      .action(async (component: string, name: string, o: { project?: string }, cmd: Command) => {
        const api = clientFor(cmd);
        const path = `${base(o.project, component)}/${enc(name)}`;
        printRule(cmd, await api.request<AlertRuleView>('PATCH', api.orgPath(path), { enabled }));
      });

  alerts
    .command('delete <component> <name>')
    .description('delete a rule and its webhook secret (its history stays)')
    .option('--project <name>', 'the component’s project (required)')
    .action(async (component: string, name: string, o: { project?: string }, cmd: Command) => {
      const api = clientFor(cmd);
      await api.request('DELETE', api.orgPath(`${base(o.project, component)}/${enc(name)}`));
      process.stdout.write(`Deleted alert rule ${name}.\n`);
    });

  alerts
    .command('history <component>')
    .description('when rules fired and resolved, and what was sent')
    .option('--project <name>', 'the component’s project (required)')
    .option('--env <environment>', 'only this environment')
    .option('--rule <name>', 'only this rule')
    .option('--limit <n>', 'how many, newest first', '50')
    .action(
      async (
        component: string,
        o: { project?: string; env?: string; rule?: string; limit: string },
        cmd: Command,
      ) => {
        const api = clientFor(cmd);
        const q = new URLSearchParams({ limit: o.limit });
        if (o.env) q.set('environment', o.env);
        if (o.rule) q.set('rule', o.rule);
        const r = await api.request<{ items: AlertIncidentView[] }>(
          'GET',
          api.orgPath(`${base(o.project, component)}/history?${q}`),
        );
        printList(
          globals(cmd).output,
          r.items,
          [
            { header: 'fired', value: (i) => i.firedAt },
            { header: 'resolved', value: (i) => i.resolvedAt ?? 'firing' },
            { header: 'rule', value: (i) => i.rule },
            { header: 'environment', value: (i) => i.environment },
            { header: 'summary', value: (i) => i.summary },
            {
              header: 'sent',
              value: (i) => i.notifications.map((n) => `${n.transition} ${n.channel} ${n.status}`).join('; '),
            },
          ],
          r,
        );
      },
    );
}

function printRule(cmd: Command, a: AlertRuleView): void {
  printObject(globals(cmd).output, a, [
    ['name', a.name],
    ['environment', a.environment],
    ['kind', `${a.kind} (evaluated by ${a.evaluatedBy})`],
    ['params', JSON.stringify(a.params)],
    ['enabled', a.enabled ? 'yes' : 'no'],
    ['state', a.state],
    ['webhook', a.webhook?.url ?? '–'],
    ['emails', a.emails.join(', ') || '–'],
  ]);
}
