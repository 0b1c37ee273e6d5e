import { randomBytes } from 'node:crypto';
import { storeValue } from '../configuration/config-entries.js';
import type { ControlDeps, RequestContext } from '../control/context.js';
import { newId } from '../control/ids.js';
import { findComponent } from '../control/lookups.js';
import { mutateInOrg, readInOrg } from '../control/org-access.js';
import type { ComponentSource } from '../domain/component.js';
import { invalid } from '../domain/errors.js';
import { withoutCredentials } from '../domain/source.js';
import type { SecretDeps } from '../secrets/secret-deps.js';
import type { Executor } from '../store/store.js';
import { repositoryKey } from './push-matching.js';
import { PROVIDERS, type Provider } from './webhook-events.js';

export type WebhookAdminDeps = ControlDeps & SecretDeps;

export interface WebhookView {
  repository: string;
  configured: boolean;
  urls: Partial<Record<Provider, string>>;
  setup: Partial<Record<Provider, string>>;
  rotatedAt: string | null;
  polling: {
    intervalSeconds: number;
    polledAt: string | null;
    failures: number;
    error: string | null;
  } | null;
}

type HookRow = {
  id: string;
  rotated_at: Date;
  poll_interval_seconds: number | null;
  polled_at: Date | null;
  poll_failures: number;
  poll_error: string | null;
};
const HOOK_COLUMNS = [
  'id',
  'rotated_at',
  'poll_interval_seconds',
  'polled_at',
  'poll_failures',
  'poll_error',
] as const;

const SETUP: Record<Provider, string> = {
  github:
    'Repository → Settings → Webhooks → Add webhook: Payload URL as above, Content type application/json, Secret = the secret Rondo printed, event "Just the push event".',
  gitlab:
    'Project → Settings → Webhooks: URL as above, Secret token = the secret Rondo printed, trigger "Push events" (and "Tag push events" for components that build tags).',
  bitbucket:
    'Repository settings → Webhooks → Add webhook: URL as above, Secret = the secret Rondo printed, trigger "Repository push".',
  generic:
    'POST the JSON {"ref","before","after","repository","changedFiles"?} with X-Rondo-Delivery (unique id), X-Rondo-Timestamp (Unix seconds) and X-Rondo-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<body>" keyed with the secret>.',
};

async function repositoryOf(deps: WebhookAdminDeps, orgId: string, project: string, component: string) {
  const c = await findComponent(deps.store.db, orgId, project, component);
  const source = c.source as ComponentSource;
  if (source.kind !== 'git')
    throw invalid([
      {
        field: 'component',
        message: `${project}/${component} is built from an image, not a Git repository; it has no webhook`,
      },
    ]);
  // `url` is shown and audited: never with a credential an older record still holds.
  return { url: withoutCredentials(source.repoUrl), key: repositoryKey(source.repoUrl) };
}

function view(base: string, repository: string, hook: HookRow | undefined): WebhookView {
  const urls = Object.fromEntries(
    hook ? PROVIDERS.map((p) => [p, `${base.replace(/\/+$/, '')}/hooks/${p}/${hook.id}`]) : [],
  );
  return {
    repository,
    configured: hook !== undefined,
    urls,
    setup: hook ? SETUP : {},
    rotatedAt: hook ? new Date(hook.rotated_at).toISOString() : null,
    polling:
      hook?.poll_interval_seconds != null
        ? {
            intervalSeconds: hook.poll_interval_seconds,
            polledAt: hook.polled_at ? new Date(hook.polled_at).toISOString() : null,
            failures: hook.poll_failures,
            error: hook.poll_error,
          }
        : null,
  };
}

/** The repository webhook of a component: its URLs and how to set it up per provider; never the secret. */
export async function showWebhook(
  deps: WebhookAdminDeps,
  ctx: RequestContext,
  orgName: string,
  project: string,
  component: string,
  base: string,
): Promise<WebhookView> {
  const { org } = await readInOrg(deps, ctx, orgName);
  const repo = await repositoryOf(deps, org.id, project, component);
  return view(base, repo.url, await findHook(deps.store.db, org.id, repo.key));
}

function findHook(db: Executor, orgId: string, repoKey: string) {
  return db
    .selectFrom('repository_hooks')
    .select([...HOOK_COLUMNS, 'secret_value_id'])
    .where('org_id', '=', orgId)
    .where('repo_key', '=', repoKey)
    .executeTakeFirst();
}

/**
 * Creates the webhook of the component's repository, or gives it a new secret; the secret is in
 * this answer only (stored encrypted, never shown again). Every component of the organization
 * that builds from this repository shares the webhook.
 */
export async function rotateWebhookSecret(
  deps: WebhookAdminDeps,
  ctx: RequestContext,
  orgName: string,
  project: string,
  component: string,
  base: string,
): Promise<WebhookView & { secret: string }> {
  const { org } = await readInOrg(deps, ctx, orgName);
  const repo = await repositoryOf(deps, org.id, project, component);
  const secret = `whsec_${randomBytes(24).toString('base64url')}`;
  const hook = await mutateInOrg(
    deps,
    ctx,
    orgName,
    {
      permission: 'component:write',
      action: 'webhook.rotate-secret',
      resourceType: 'webhook',
      resource: repo.url,
    },
    async (tx) => {
      const valueId = await storeValue(tx, deps.keyring, org.id, null, Buffer.from(secret));
      const now = new Date();
      const previous = await findHook(tx, org.id, repo.key);
      if (previous) {
        const rotated = await tx
          .updateTable('repository_hooks')
          .set({ secret_value_id: valueId, rotated_at: now })
          .where('id', '=', previous.id)
          .returning(HOOK_COLUMNS)
          .executeTakeFirstOrThrow();
        // The old secret goes once nothing points at it.
        await tx.deleteFrom('config_values').where('id', '=', previous.secret_value_id).execute();
        return rotated;
      }
      return insertHook(tx, org.id, repo.key, valueId, now);
    },
  );
  return { ...view(base, repo.url, hook), secret };
}

async function insertHook(
  tx: Executor,
  orgId: string,
  repoKey: string,
  valueId: string,
  now: Date,
): Promise<HookRow> {
  return tx
    .insertInto('repository_hooks')
    .values({
      id: newId('hook'),
      org_id: orgId,
      repo_key: repoKey,
      secret_value_id: valueId,
      rotated_at: now,
    })
    .returning(HOOK_COLUMNS)
    .executeTakeFirstOrThrow();
}

/**
 * Turns polling of the component's repository on (every `intervalSeconds`) or off (null). The
 * repository's webhook record is created if needed (its secret stays unknown until rotated).
 */
export async function setPolling(
  deps: WebhookAdminDeps,
  ctx: RequestContext,
  orgName: string,
  project: string,
  component: string,
  intervalSeconds: number | null,
  base: string,
): Promise<WebhookView> {
  const { org } = await readInOrg(deps, ctx, orgName);
  const repo = await repositoryOf(deps, org.id, project, component);
  const hook = await mutateInOrg(
    deps,
    ctx,
    orgName,
    { permission: 'component:write', action: 'webhook.polling', resourceType: 'webhook', resource: repo.url },
    async (tx) => {
      const row =
        (await findHook(tx, org.id, repo.key)) ??
        (await insertHook(
          tx,
          org.id,
          repo.key,
          await storeValue(tx, deps.keyring, org.id, null, randomBytes(24)),
          new Date(),
        ));
      return tx
        .updateTable('repository_hooks')
        .set({ poll_interval_seconds: intervalSeconds, polled_at: null, poll_failures: 0, poll_error: null })
        .where('id', '=', row.id)
        .returning(HOOK_COLUMNS)
        .executeTakeFirstOrThrow();
    },
  );
  return view(base, repo.url, hook);
}

export interface DeliveryView {
  id: string;
  provider: string;
  deliveryId: string | null;
  status: number;
  outcome: string;
  detail: Record<string, unknown>;
  receivedAt: string;
}

/** The organization's recent webhook deliveries, newest first, with what each did and why. */
export async function listDeliveries(
  deps: WebhookAdminDeps,
  ctx: RequestContext,
  orgName: string,
  limit = 50,
): Promise<DeliveryView[]> {
  const { org } = await readInOrg(deps, ctx, orgName);
  const rows = await deps.store.db
    .selectFrom('webhook_deliveries')
    .selectAll()
    .where('org_id', '=', org.id)
    .orderBy('received_at', 'desc')
    .limit(limit)
    .execute();
  return rows.map((r) => ({
    id: r.id,
    provider: r.provider,
    deliveryId: r.delivery_id,
    status: r.status,
    outcome: r.outcome,
    detail: r.detail,
    receivedAt: new Date(r.received_at).toISOString(),
  }));
}
