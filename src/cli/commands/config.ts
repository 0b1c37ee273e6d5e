import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import type { ApiClient } from '../client.js';
import { clientFor, globals, requireProject } from '../context.js';
import { UsageError } from '../errors.js';
import { printList } from '../output.js';

const enc = encodeURIComponent;

interface ConfigScope {
  scope: string;
  revision: number;
  items: {
    key: string;
    kind: string;
    secret: boolean;
    version: number;
    value?: string;
    encoding?: string;
    updatedBy: string;
    updatedAt: string;
  }[];
}

interface SetItem {
  key: string;
  value: string;
  secret?: boolean;
  encoding?: 'utf8' | 'base64';
}

async function readStdinRaw(): Promise<Buffer> {
  if (process.stdin.isTTY)
    throw new UsageError('pipe the value on stdin (or use --from-file); values never go on the command line');
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** Text stays text; anything else (a binary file) travels base64-encoded. */
function encodeBytes(bytes: Buffer): { value: string; encoding?: 'base64' } {
  const text = bytes.toString('utf8');
  return !bytes.includes(0) && Buffer.from(text, 'utf8').equals(bytes)
    ? { value: text }
    : { value: bytes.toString('base64'), encoding: 'base64' };
}

async function patch(
  api: ApiClient,
  project: string,
  component: string,
  body: { environment?: string; build?: boolean; revision?: number; set?: SetItem[]; unset?: string[] },
): Promise<ConfigScope> {
  return api.request<ConfigScope>(
    'PATCH',
    api.orgPath(`/projects/${enc(project)}/components/${enc(component)}/config`),
    body,
  );
}

function printScope(cmd: Command, scope: ConfigScope): void {
  printList(
    globals(cmd).output,
    scope.items,
    [
      { header: 'key', value: (i) => i.key },
      { header: 'kind', value: (i) => i.kind },
      {
        header: 'value',
        value: (i) =>
          i.secret
            ? '(secret)'
            : i.encoding === 'base64'
              ? `(binary, ${Buffer.from(i.value ?? '', 'base64').length} bytes)`
              : (i.value ?? '').split('\n')[0]!,
      },
      { header: 'version', value: (i) => String(i.version) },
      { header: 'updated by', value: (i) => i.updatedBy },
    ],
    scope,
  );
  if (globals(cmd).output === 'table')
    process.stderr.write(
      `Scope ${scope.scope}, revision ${scope.revision}. Changes take effect at the next deployment.\n`,
    );
}

function scopeOptions(cmd: Command): Command {
  return cmd
    .option('--project <name>', 'the component’s project (required)')
    .option('--env <environment>', 'environment-specific (default: every environment)')
    .option('--build', 'the build scope: build arguments (config) and build secrets (secret)')
    .option('--revision <n>', 'refuse the change if the scope is no longer at this revision');
}

function revisionOf(o: { revision?: string }): number | undefined {
  if (o.revision === undefined) return undefined;
  const n = Number(o.revision);
  if (!Number.isInteger(n) || n < 0) throw new UsageError('--revision takes a whole number');
  return n;
}

/** `rondo config set|unset|list` and `rondo secret set|unset|list` (§5, §12), `rondo source-token`. */
export function registerConfig(program: Command): void {
  const token = program
    .command('source-token')
    .description('the credential of a component’s private repository: an access token or an SSH key');
  token
    .command('set <component>')
    .description(
      'store the token, or an SSH private key for an ssh URL (read from stdin), encrypted; builds use it to fetch the source',
    )
    .option('--project <name>', 'the component’s project (required)')
    .action(async (component: string, o: { project?: string }, cmd: Command) => {
      const value = (await readStdinRaw()).toString('utf8').trim();
      if (!value) throw new UsageError('no token on stdin');
      const api = clientFor(cmd);
      await api.request(
        'PUT',
        api.orgPath(`/projects/${enc(requireProject(o.project))}/components/${enc(component)}/source-token`),
        { token: value },
      );
      process.stderr.write('Stored. The next build fetches the repository with it.\n');
    });
  token
    .command('unset <component>')
    .description('forget the token')
    .option('--project <name>', 'the component’s project (required)')
    .action(async (component: string, o: { project?: string }, cmd: Command) => {
      const api = clientFor(cmd);
      await api.request(
        'DELETE',
        api.orgPath(`/projects/${enc(requireProject(o.project))}/components/${enc(component)}/source-token`),
      );
      process.stderr.write('Removed.\n');
    });

  for (const secret of [false, true]) {
    const noun = secret ? 'secret' : 'config';
    const group = program
      .command(noun)
      .description(
        secret
          ? 'write-only secrets: env vars or file mounts (absolute paths), encrypted at rest'
          : 'configuration: env vars or file mounts (keys that are absolute paths), per component or per environment',
      );
    const set = scopeOptions(group.command(secret ? 'set <component> <key>' : 'set <component> <pairs...>'))
      .description(
        secret
          ? 'set a secret; the value comes from stdin or --from-file, never from the command line'
          : 'set KEY=VALUE pairs; /path=@file mounts a local file’s content at /path',
      )
      .option(
        '--from-file <path>',
        secret ? 'read the value from this file' : 'unused for config; use /path=@file',
      );
    set.action(
      async (
        component: string,
        arg: string | string[],
        o: { project?: string; env?: string; build?: boolean; revision?: string; fromFile?: string },
        cmd: Command,
      ) => {
        const items: SetItem[] = [];
        if (secret) {
          const key = arg as string;
          const bytes = o.fromFile ? readFileSync(o.fromFile) : await readStdinRaw();
          // `echo value | rondo secret set` should not store the newline echo adds to an env var.
          const raw =
            !o.fromFile && !key.startsWith('/')
              ? Buffer.from(bytes.toString('utf8').replace(/\r?\n$/, ''))
              : bytes;
          items.push({ key, secret: true, ...encodeBytes(raw) });
        } else {
          for (const pair of arg as string[]) {
            const eq = pair.indexOf('=');
            if (eq <= 0) throw new UsageError(`'${pair}' is not KEY=VALUE`);
            const key = pair.slice(0, eq);
            const value = pair.slice(eq + 1);
            items.push(
              key.startsWith('/') && value.startsWith('@')
                ? { key, ...encodeBytes(readFileSync(value.slice(1))) }
                : { key, value },
            );
          }
        }
        const api = clientFor(cmd);
        const revision = revisionOf(o);
        const scope = await patch(api, requireProject(o.project), component, {
          ...(o.env ? { environment: o.env } : {}),
          ...(o.build ? { build: true } : {}),
          ...(o.build ? { build: true } : {}),
          ...(revision === undefined ? {} : { revision }),
          set: items,
        });
        printScope(cmd, secret ? { ...scope, items: scope.items.filter((i) => i.secret) } : scope);
      },
    );
    scopeOptions(group.command('unset <component> <keys...>'))
      .description(`remove ${noun} keys from a scope`)
      .action(
        async (
          component: string,
          keys: string[],
          o: { project?: string; env?: string; build?: boolean; revision?: string },
          cmd: Command,
        ) => {
          const api = clientFor(cmd);
          const revision = revisionOf(o);
          const scope = await patch(api, requireProject(o.project), component, {
            ...(o.env ? { environment: o.env } : {}),
            ...(o.build ? { build: true } : {}),
            ...(o.build ? { build: true } : {}),
            ...(revision === undefined ? {} : { revision }),
            unset: keys,
          });
          printScope(cmd, scope);
        },
      );
    group
      .command('list <component>')
      .description(
        secret
          ? 'secret names and versions (never values)'
          : 'configuration of a scope (secret values are never shown)',
      )
      .option('--project <name>', 'the component’s project (required)')
      .option('--env <environment>', 'environment-specific (default: every environment)')
      .option('--build', 'the build scope')
      .action(
        async (component: string, o: { project?: string; env?: string; build?: boolean }, cmd: Command) => {
          const api = clientFor(cmd);
          const q = o.build ? '?build=true' : o.env ? `?environment=${enc(o.env)}` : '';
          const scope = await api.request<ConfigScope>(
            'GET',
            api.orgPath(
              `/projects/${enc(requireProject(o.project))}/components/${enc(component)}/config${q}`,
            ),
          );
          printScope(cmd, secret ? { ...scope, items: scope.items.filter((i) => i.secret) } : scope);
        },
      );
  }
}
