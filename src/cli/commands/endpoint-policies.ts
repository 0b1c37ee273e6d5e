import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import type { ApiKeyView } from '../../endpoint-policies/api-keys.js';
import type { EndpointPolicyView } from '../../endpoint-policies/policies.js';
import { clientFor, collect, globals, requireProject } from '../context.js';
import { UsageError } from '../errors.js';
import { printList, printObject } from '../output.js';

const enc = encodeURIComponent;

export interface PolicyFlags {
  file?: string;
  rateLimit?: string;
  consumerRateLimit?: string;
  burst?: string;
  apiKey?: string | boolean;
  corsOrigin: string[];
  clear?: boolean;
}

/** `100/minute` → `{ requests: 100, per: 'minute' }`; the server checks the rest (400 naming the field). */
export function parseRate(flag: string, value: string): { requests: number; per: string } {
  const m = /^(\d+)\/(second|minute|s|m|min)$/.exec(value.trim());
  if (!m) throw new UsageError(`${flag} takes <requests>/<second|minute>, e.g. 100/minute (got '${value}')`);
  return { requests: Number(m[1]), per: m[2]?.startsWith('s') ? 'second' : 'minute' };
}

/**
 * The policy to send: the file's JSON (`-` for stdin), with the flags on top. The whole policy is
 * replaced, as the API does; `--clear` sends `{}`.
 */
export function policyFromFlags(o: PolicyFlags, readFile: (path: string) => string): Record<string, unknown> {
  if (o.clear) return {};
  let policy: Record<string, unknown> = {};
  if (o.file) {
    try {
      policy = JSON.parse(readFile(o.file)) as Record<string, unknown>;
    } catch (err) {
      throw new UsageError(`--file ${o.file}: not a JSON policy (${(err as Error).message})`);
    }
  }
  if (o.rateLimit)
    policy.rateLimit = {
      ...parseRate('--rate-limit', o.rateLimit),
      ...(o.burst ? { burst: Number(o.burst) } : {}),
    };
  if (o.consumerRateLimit) policy.consumerRateLimit = parseRate('--consumer-rate-limit', o.consumerRateLimit);
  if (o.apiKey) policy.apiKey = typeof o.apiKey === 'string' ? { header: o.apiKey } : {};
  if (o.corsOrigin.length)
    policy.cors = { ...((policy.cors as Record<string, unknown>) ?? {}), origins: o.corsOrigin };
  return policy;
}

const endpointPath = (project: string | undefined, component: string, endpoint: string) =>
  `/projects/${enc(requireProject(project))}/components/${enc(component)}/endpoints/${enc(endpoint)}`;

/** `rondo endpoint policy set|show` and `rondo api-keys create|list|revoke` (G7). */
export function registerEndpointPolicies(program: Command): void {
  const endpoint = program.command('endpoint').description('API management on a component’s endpoints');
  const policy = endpoint.command('policy').description('an endpoint’s policy in one environment');

  policy
    .command('set <component> <endpoint>')
    .description(
      'replace the endpoint’s policy in an environment: rate limits (429), API keys and JWTs (401), CORS preflights; --file takes the whole policy as JSON (see the API docs), flags set parts of it',
    )
    .option('--project <name>', 'the component’s project (required)')
    .requiredOption('--env <environment>', 'the environment')
    .option('--file <path>', 'the policy as JSON (- for stdin)')
    .option('--rate-limit <n/unit>', 'all requests to the endpoint, e.g. 100/minute or 10/second')
    .option('--burst <n>', 'with a per-minute --rate-limit: at most this many in one second')
    .option('--consumer-rate-limit <n/unit>', 'each consumer (API key’s, JWT subject, else client address)')
    .option('--api-key [header]', 'require an API key (in this header; default api-key)')
    .option('--cors-origin <origin>', 'allow this origin (repeat; * for any)', collect, [])
    .option('--clear', 'remove the policy')
    .action(
      async (component: string, ep: string, o: PolicyFlags & { project?: string; env: string }, cmd) => {
        const body = policyFromFlags(o, (p) => readFileSync(p === '-' ? 0 : p, 'utf8'));
        const api = clientFor(cmd);
        const path = `${endpointPath(o.project, component, ep)}/policies?environment=${enc(o.env)}`;
        const view = await api.request<EndpointPolicyView>('PUT', api.orgPath(path), { policy: body });
        printObject(globals(cmd).output, view);
      },
    );

  policy
    .command('show <component> <endpoint>')
    .description('the endpoint’s policy in an environment')
    .option('--project <name>', 'the component’s project (required)')
    .requiredOption('--env <environment>', 'the environment')
    .action(async (component: string, ep: string, o: { project?: string; env: string }, cmd: Command) => {
      const api = clientFor(cmd);
      const path = `${endpointPath(o.project, component, ep)}/policies?environment=${enc(o.env)}`;
      printObject(globals(cmd).output, await api.request<EndpointPolicyView>('GET', api.orgPath(path)));
    });

  const keys = program.command('api-keys').description('API keys of a component’s endpoint, per consumer');
  keys
    .command('create <component> <endpoint> <consumer>')
    .description('create a key for a consumer; it is shown this once (Rondo keeps only its hash)')
    .option('--project <name>', 'the component’s project (required)')
    .requiredOption('--env <environment>', 'the environment')
    .action(
      async (component: string, ep: string, consumer: string, o: { project?: string; env: string }, cmd) => {
        const api = clientFor(cmd);
        const path = `${endpointPath(o.project, component, ep)}/api-keys?environment=${enc(o.env)}`;
        const created = await api.request<ApiKeyView & { key: string }>('POST', api.orgPath(path), {
          consumer,
        });
        printObject(globals(cmd).output, created);
        if (globals(cmd).output === 'table')
          process.stderr.write(
            'Store the key now: it cannot be shown again. Send it in the policy’s header.\n',
          );
      },
    );

  keys
    .command('list <component> <endpoint>')
    .description('the endpoint’s keys (never the keys themselves), revoked ones included')
    .option('--project <name>', 'the component’s project (required)')
    .requiredOption('--env <environment>', 'the environment')
    .action(async (component: string, ep: string, o: { project?: string; env: string }, cmd: Command) => {
      const api = clientFor(cmd);
      const path = `${endpointPath(o.project, component, ep)}/api-keys?environment=${enc(o.env)}`;
      const r = await api.request<{ items: ApiKeyView[] }>('GET', api.orgPath(path));
      printList(
        globals(cmd).output,
        r.items,
        [
          { header: 'id', value: (k) => k.id },
          { header: 'consumer', value: (k) => k.consumer },
          { header: 'created', value: (k) => k.createdAt },
          { header: 'by', value: (k) => k.createdBy },
          { header: 'revoked', value: (k) => k.revokedAt ?? '' },
        ],
        r,
      );
    });

  keys
    .command('revoke <component> <endpoint> <id>')
    .description('revoke a key: the gateway refuses it from its next sync')
    .option('--project <name>', 'the component’s project (required)')
    .requiredOption('--env <environment>', 'the environment')
    .action(async (component: string, ep: string, id: string, o: { project?: string; env: string }, cmd) => {
      const api = clientFor(cmd);
      const path = `${endpointPath(o.project, component, ep)}/api-keys/${enc(id)}?environment=${enc(o.env)}`;
      printObject(globals(cmd).output, await api.request<ApiKeyView>('DELETE', api.orgPath(path)));
    });
}
