import { Argument, type Command } from 'commander';
import type { Page } from '../../control/pagination.js';
import type { AuditEvent, Member } from '../../domain/resources.js';
import { ApiClient } from '../client.js';
import { clientFor, globals } from '../context.js';
import { UsageError } from '../errors.js';
import { printList, printObject } from '../output.js';
import { readLogin, resolveConnection, writeLogin } from '../settings.js';

interface Me {
  name: string;
  defaultOrg: string | null;
  organizations: { name: string; role: string }[];
  scopes: string[];
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8').trim();
}

export function registerSession(program: Command): void {
  program
    .command('login')
    .description(
      'log in with a personal access token read from stdin: `echo $TOKEN | rondo login --with-token`',
    )
    .option('--with-token', 'read the token from stdin')
    .action(async (o: { withToken?: boolean }, cmd: Command) => {
      if (!o.withToken)
        throw new UsageError(
          'use --with-token and pass the token on stdin (interactive login is not available)',
        );
      const token = await readStdin();
      if (!token) throw new UsageError('no token on stdin');
      const g = globals(cmd);
      const conn = resolveConnection(g.server ? { server: g.server } : {});
      // Check the token before storing it, so a typo does not replace a working login.
      const me = await new ApiClient({ server: conn.server, token }).request<Me>('GET', '/me');
      const org = g.org ?? me.defaultOrg ?? undefined;
      const path = writeLogin({ server: conn.server, token, ...(org ? { org } : {}) });
      process.stdout.write(
        `Logged in to ${conn.server} as ${me.name}${org ? ` (organization ${org})` : ''}; saved to ${path}\n`,
      );
    });

  program
    .command('logout')
    .description('forget the stored login')
    .action(() => {
      const { server } = readLogin();
      writeLogin(server ? { server } : {});
      process.stdout.write('Logged out.\n');
    });

  program
    .command('whoami')
    .description('show who you are logged in as')
    .action(async (_o: unknown, cmd: Command) => {
      const me = await clientFor(cmd).request<Me>('GET', '/me');
      const orgs = me.organizations.map((x) => `${x.name} (${x.role})`).join(', ');
      printObject(globals(cmd).output, me, [
        ['User', me.name],
        ['Default org', me.defaultOrg ?? '-'],
        ['Organizations', orgs || '-'],
        ['Token scopes', me.scopes.join(', ')],
      ]);
    });

  const member = program.command('member').description('organization membership');
  member
    .command('set')
    .description('add a user to the organization, or change their role')
    .argument('<user>')
    .addArgument(new Argument('<role>').choices(['admin', 'developer', 'viewer']))
    .action(async (user: string, role: string, _o: unknown, cmd: Command) => {
      const api = clientFor(cmd);
      const m = await api.request<Member>('PUT', api.orgPath(`/members/${encodeURIComponent(user)}`), {
        role,
      });
      printObject(globals(cmd).output, m, [
        ['User', m.user],
        ['Role', m.role],
      ]);
    });

  program
    .command('audit')
    .description('show the organization audit log, newest first (admins)')
    .option(
      '--platform',
      'the platform log instead (platform admins): users, organizations, tokens, failed authentication',
    )
    .option('--actor <user>')
    .option('--action <action>', 'e.g. component.create')
    .option('--resource-type <type>')
    .option('--resource <name>')
    .option('--outcome <outcome>', 'success or denied')
    .option('--since <time>', 'ISO 8601 time')
    .option('--until <time>', 'ISO 8601 time')
    .option('--limit <n>')
    .option('--cursor <cursor>')
    .action(async (o: Record<string, string | true | undefined>, cmd: Command) => {
      const api = clientFor(cmd);
      const { platform, ...filters } = o;
      const q = new URLSearchParams(
        Object.entries(filters).filter((e): e is [string, string] => typeof e[1] === 'string'),
      );
      const path = `/audit${q.size ? `?${q}` : ''}`;
      const page = await api.request<Page<AuditEvent>>('GET', platform ? path : api.orgPath(path));
      printList(
        globals(cmd).output,
        page.items,
        [
          { header: 'time', value: (e) => e.createdAt },
          { header: 'actor', value: (e) => e.actor },
          { header: 'action', value: (e) => e.action },
          { header: 'resource', value: (e) => e.resource },
          { header: 'outcome', value: (e) => e.outcome },
        ],
        page,
      );
    });
}
