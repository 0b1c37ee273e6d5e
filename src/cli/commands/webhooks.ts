import type { Command } from 'commander';
import type { Component } from '../../domain/resources.js';
import type { DeliveryView } from '../../git/webhook-admin.js';
import { clientFor, globals, requireProject } from '../context.js';
import { UsageError } from '../errors.js';
import { printList, printObject } from '../output.js';

const enc = encodeURIComponent;

interface WebhookView {
  repository: string;
  configured: boolean;
  urls: Record<string, string>;
  setup: Record<string, string>;
  rotatedAt: string | null;
  secret?: string;
}

function printWebhook(cmd: Command, w: WebhookView): void {
  if (globals(cmd).output !== 'table') {
    printObject(globals(cmd).output, w, []);
    return;
  }
  const lines = [`Repository: ${w.repository}`];
  if (!w.configured)
    lines.push(
      'No webhook yet: `rondo webhooks rotate-secret <component>` creates it and prints its secret once.',
    );
  if (w.secret) lines.push(`Secret (shown once, store it in the provider now): ${w.secret}`);
  for (const [provider, url] of Object.entries(w.urls)) {
    lines.push('', `${provider}: ${url}`, `  ${w.setup[provider] ?? ''}`);
  }
  process.stdout.write(`${lines.join('\n')}\n`);
}

const onOff = (v: string | undefined, flag: string): boolean | undefined => {
  if (v === undefined) return undefined;
  if (v === 'on' || v === 'true') return true;
  if (v === 'off' || v === 'false') return false;
  throw new UsageError(`${flag} takes on or off (got '${v}')`);
};

/** `rondo webhooks show|rotate-secret|deliveries|settings` (§9, F6). */
export function registerWebhooks(program: Command): void {
  const webhooks = program
    .command('webhooks')
    .description('Git automation: webhooks, deliveries, auto-build settings');
  const path = (project: string | undefined, component: string) =>
    `/projects/${enc(requireProject(project))}/components/${enc(component)}`;
  webhooks
    .command('show <component>')
    .description('the webhook URLs of the component’s repository and how to set them up (never the secret)')
    .option('--project <name>', 'the component’s project (required)')
    .action(async (component: string, o: { project?: string }, cmd: Command) => {
      const api = clientFor(cmd);
      printWebhook(
        cmd,
        await api.request<WebhookView>('GET', api.orgPath(`${path(o.project, component)}/webhook`)),
      );
    });
  webhooks
    .command('rotate-secret <component>')
    .description('create the repository’s webhook or give it a new secret; prints the secret once')
    .option('--project <name>', 'the component’s project (required)')
    .action(async (component: string, o: { project?: string }, cmd: Command) => {
      const api = clientFor(cmd);
      const w = await api.request<WebhookView>(
        'POST',
        api.orgPath(`${path(o.project, component)}/webhook/secret`),
      );
      if (globals(cmd).output === 'json') return printObject('json', { secret: w.secret, urls: w.urls }, []);
      printWebhook(cmd, w);
    });
  webhooks
    .command('poll <component>')
    .description('poll the component’s repository (git ls-remote) for repositories that cannot send webhooks')
    .option('--project <name>', 'the component’s project (required)')
    .requiredOption('--every <seconds|off>', 'the interval in seconds (60 is a good start), or off')
    .action(async (component: string, o: { project?: string; every: string }, cmd: Command) => {
      const seconds = o.every === 'off' ? null : Number(o.every.replace(/s$/, ''));
      if (seconds !== null && (!Number.isInteger(seconds) || seconds < 1))
        throw new UsageError(`--every takes whole seconds or off (got '${o.every}')`);
      const api = clientFor(cmd);
      const w = await api.request<WebhookView & { polling: { intervalSeconds: number } | null }>(
        'PUT',
        api.orgPath(`${path(o.project, component)}/webhook/polling`),
        { intervalSeconds: seconds },
      );
      printObject(globals(cmd).output, w, [
        ['Repository', w.repository],
        ['Polling', w.polling ? `every ${w.polling.intervalSeconds} s` : 'off'],
      ]);
    });
  webhooks
    .command('deliveries')
    .description('recent deliveries: outcome, builds started, or why not')
    .option('--limit <n>', 'at most this many (default 50)')
    .action(async (o: { limit?: string }, cmd: Command) => {
      const api = clientFor(cmd);
      const r = await api.request<{
        items: DeliveryView[];
      }>('GET', api.orgPath(`/webhook-deliveries${o.limit ? `?limit=${enc(o.limit)}` : ''}`));
      printList(
        globals(cmd).output,
        r.items,
        [
          { header: 'received', value: (d) => d.receivedAt },
          { header: 'provider', value: (d) => d.provider },
          { header: 'delivery', value: (d) => d.deliveryId ?? '-' },
          { header: 'status', value: (d) => String(d.status) },
          { header: 'outcome', value: (d) => d.outcome },
          { header: 'detail', value: (d) => String(d.detail.message ?? d.detail.reason ?? '') },
        ],
        r,
      );
    });
  webhooks
    .command('settings <component>')
    .description('what a push does to this component')
    .option('--project <name>', 'the component’s project (required)')
    .option('--auto-build <on|off>', 'build on every push that touches the component')
    .option('--auto-deploy <on|off>', 'deploy each successful build to the first environment')
    .option('--watch-paths <list>', 'comma-separated paths besides the component directory ("" for none)')
    .option('--build-tags <on|off>', 'pushed tags start builds too')
    .action(
      async (
        component: string,
        o: {
          project?: string;
          autoBuild?: string;
          autoDeploy?: string;
          watchPaths?: string;
          buildTags?: string;
        },
        cmd: Command,
      ) => {
        const body = Object.fromEntries(
          Object.entries({
            autoBuild: onOff(o.autoBuild, '--auto-build'),
            autoDeploy: onOff(o.autoDeploy, '--auto-deploy'),
            buildTags: onOff(o.buildTags, '--build-tags'),
            watchPaths:
              o.watchPaths === undefined
                ? undefined
                : o.watchPaths
                    .split(',')
                    .map((p) => p.trim())
                    .filter(Boolean),
          }).filter(([, v]) => v !== undefined),
        );
        const api = clientFor(cmd);
        const c = await api.request<Component>(
          Object.keys(body).length ? 'PATCH' : 'GET',
          api.orgPath(path(o.project, component)),
          Object.keys(body).length ? body : undefined,
        );
        printObject(globals(cmd).output, c, [
          ['Component', `${c.name}`],
          ['Auto-build', c.autoBuild ? 'on' : 'off'],
          ['Auto-deploy', c.autoDeploy ? 'on' : 'off'],
          ['Watch paths', c.watchPaths.join(', ') || '-'],
          ['Build tags', c.buildTags ? 'on' : 'off'],
        ]);
      },
    );
}
