import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { type BuildUseDeps, createBuild } from '../builds/builds.js';
import { changedFiles as gitChangedFiles } from '../builds/git-source.js';
import { sourceTokenOf } from '../configuration/source-token.js';
import { systemContext } from '../control/context.js';
import { isUniqueViolation, newId } from '../control/ids.js';
import type { ComponentSource } from '../domain/component.js';
import { storableJson, storableText } from '../domain/storable-text.js';
import { matchPush, repositoryKey } from './push-matching.js';
import {
  type Headers,
  type Parsed,
  type Provider,
  type PushEvent,
  parseDelivery,
  verifyDelivery,
  WebhookRefused,
} from './webhook-events.js';

export interface WebhookDeps {
  builds: BuildUseDeps;
  logger: Logger;
  gitTimeoutMs: number;
}

export interface DeliveryAnswer {
  /** 2xx: done (the body says what); 4xx: refused (the route answers problem+json). */
  status: number;
  body: { outcome: string; message: string; builds?: { component: string; build: string }[] };
}

/**
 * One webhook delivery (§9, F6), decided in this order before anything happens: the repository
 * hook exists (404), the signature or token is the hook's secret (401), the body is a push the
 * providers' formats describe (400), the delivery id is new (409: a replay does nothing). Then
 * every component of the organization that tracks this repository is matched (branch, changed
 * files under its directory or watch paths, tags when asked) and, with auto-build on, built at
 * the pushed commit. Every delivery is recorded with its outcome and why.
 */
export async function receiveDelivery(
  deps: WebhookDeps,
  provider: Provider,
  hookId: string,
  body: Buffer,
  headers: Headers,
): Promise<DeliveryAnswer> {
  const { store, keyring } = deps.builds;
  const hook = await store.db
    .selectFrom('repository_hooks as h')
    .innerJoin('config_values as v', 'v.id', 'h.secret_value_id')
    .innerJoin('organizations as o', 'o.id', 'h.org_id')
    .select([
      'h.id',
      'h.org_id',
      'h.repo_key',
      'o.name as org',
      'v.id as value_id',
      'v.key_id',
      'v.wrapped_key',
      'v.ciphertext',
    ])
    .where('h.id', '=', hookId)
    .executeTakeFirst();
  const record = (
    status: number,
    outcome: string,
    detail: Record<string, unknown>,
    deliveryId: string | null = null,
  ) =>
    store.db
      .insertInto('webhook_deliveries')
      .values({
        id: newId('dlv'),
        hook_id: hook?.id ?? null,
        org_id: hook?.org_id ?? null,
        provider,
        delivery_id: deliveryId === null ? null : storableText(deliveryId),
        status,
        outcome,
        // Payload values (repository URLs, refs) and messages: the sender's text, made storable.
        detail: storableJson(detail),
      })
      .execute();
  if (!hook) {
    await record(404, 'refused', { reason: `no webhook ${hookId}` });
    return answer(
      404,
      'refused',
      'no such webhook; see `rondo webhooks show <component>` for this repository’s URL',
    );
  }
  const secret = keyring
    .decrypt({ keyId: hook.key_id, wrappedKey: hook.wrapped_key, ciphertext: hook.ciphertext }, hook.value_id)
    .toString('utf8');
  let parsed: Parsed;
  try {
    verifyDelivery(provider, body, headers, secret);
    parsed = parseDelivery(provider, body, headers);
  } catch (err) {
    if (!(err instanceof WebhookRefused)) throw err;
    await record(err.status, 'refused', { reason: err.message });
    return answer(err.status, 'refused', err.message);
  }
  try {
    await record(202, 'received', {}, parsed.deliveryId);
  } catch (err) {
    if (!isUniqueViolation(err)) throw err;
    return answer(409, 'replayed', `delivery ${parsed.deliveryId} was received before; nothing was done`);
  }
  const finish = async (
    status: number,
    outcome: string,
    message: string,
    detail: Record<string, unknown>,
  ) => {
    await store.db
      .updateTable('webhook_deliveries')
      .set({ status, outcome, detail: storableJson({ message, ...detail }) })
      .where('hook_id', '=', hook.id)
      .where('delivery_id', '=', storableText(parsed.deliveryId))
      .execute();
    return answer(status, outcome, message, detail.builds as DeliveryAnswer['body']['builds']);
  };
  if (parsed.kind === 'ping')
    return finish(200, 'ping', 'pong: the webhook reaches Rondo and its secret matches', {});
  if (parsed.kind === 'ignored') return finish(200, 'ignored', parsed.reason, {});
  const push = parsed.event;
  if (!push.repositoryUrls.some((u) => repositoryKey(u) === hook.repo_key))
    return finish(400, 'refused', 'the payload names another repository than this webhook’s', {
      repositories: push.repositoryUrls,
    });

  const { matched, skipped } = await dispatchPush(
    deps,
    { id: hook.id, org_id: hook.org_id, org: hook.org, repo_key: hook.repo_key },
    push,
  );
  if (matched.length === 0)
    return finish(200, 'nothing-matched', 'no component with auto-build tracks what this push changed', {
      skipped,
    });
  return finish(202, 'built', `building ${matched.map((m) => m.component).join(', ')}`, {
    builds: matched,
    skipped,
  });
}

export interface HookRef {
  id: string;
  org_id: string;
  org: string;
  repo_key: string;
}

/**
 * Matches a push to every component of the hook's organization that builds from its repository
 * and starts (or coalesces) a build for each match with auto-build on. Shared by webhook
 * deliveries and polling. Changed files come from the push, else from Git.
 */
export async function dispatchPush(
  deps: WebhookDeps,
  hook: HookRef,
  push: PushEvent,
  by: 'webhook' | 'poll' = 'webhook',
): Promise<{
  matched: { component: string; build: string }[];
  skipped: { component: string; why: string }[];
}> {
  const components = await deps.builds.store.db
    .selectFrom('components as c')
    .innerJoin('projects as p', 'p.id', 'c.project_id')
    .select([
      'c.id',
      'c.name',
      'c.source',
      'c.auto_build',
      'c.watch_paths',
      'c.build_tags',
      'p.name as project',
    ])
    .where('c.org_id', '=', hook.org_id)
    .execute();
  const tracking = components.filter((c) => {
    const s = c.source as ComponentSource;
    return s.kind === 'git' && repositoryKey(s.repoUrl) === hook.repo_key;
  });
  let files = push.changedFiles;
  const matched: { component: string; build: string }[] = [];
  const skipped: { component: string; why: string }[] = [];
  for (const c of tracking) {
    const source = c.source as Extract<ComponentSource, { kind: 'git' }>;
    if (files === null && push.after && push.ref === `refs/heads/${source.branch}`) {
      const scratch = join(tmpdir(), `rondo-hook-${randomBytes(6).toString('hex')}`);
      try {
        const token = await sourceTokenOf(deps.builds.store.db, deps.builds.keyring, c.id);
        files = await gitChangedFiles(
          source.repoUrl,
          push.before,
          push.after,
          scratch,
          deps.gitTimeoutMs,
          token,
        );
      } finally {
        rmSync(scratch, { recursive: true, force: true });
      }
    }
    const name = `${c.project}/${c.name}`;
    const m = matchPush(push, files ?? [], {
      repoUrl: source.repoUrl,
      branch: source.branch,
      path: source.path,
      watchPaths: c.watch_paths,
      buildTags: c.build_tags,
    });
    if (!m.matches) {
      skipped.push({ component: name, why: m.why });
      continue;
    }
    if (!c.auto_build) {
      skipped.push({ component: name, why: 'auto-build is off' });
      continue;
    }
    const build = await startOrCoalesce(deps, hook.org, c.project, c.name, c.id, push.after!, by);
    matched.push({ component: name, build });
  }
  return { matched, skipped };
}

/**
 * A build of `commit`, unless a build of this component that a webhook started is still queued:
 * then that build takes the newer commit (a burst of pushes builds the newest once).
 */
async function startOrCoalesce(
  deps: WebhookDeps,
  org: string,
  project: string,
  component: string,
  componentId: string,
  commit: string,
  by: 'webhook' | 'poll',
): Promise<string> {
  const db = deps.builds.store.db;
  const queued = await db
    .updateTable('builds')
    .set({ commit, requested_ref: `${by}:${commit}` })
    .where('component_id', '=', componentId)
    .where('status', '=', 'queued')
    .where((eb) => eb.or([eb('requested_ref', 'like', 'webhook:%'), eb('requested_ref', 'like', 'poll:%')]))
    .returning('id')
    .executeTakeFirst();
  if (queued) return queued.id;
  const { build } = await createBuild(
    deps.builds,
    systemContext(`${by}-${commit.slice(0, 12)}`),
    org,
    project,
    component,
    { commit, requestedBy: by },
  );
  return build.id;
}

function answer(
  status: number,
  outcome: string,
  message: string,
  builds?: { component: string; build: string }[],
): DeliveryAnswer {
  return { status, body: { outcome, message, ...(builds ? { builds } : {}) } };
}
