import { createHash } from 'node:crypto';
import { BUILD_SCOPE, draftItems } from '../configuration/config-entries.js';
import { sourceTokenOf } from '../configuration/source-token.js';
import type { ControlDeps, RequestContext } from '../control/context.js';
import { newId } from '../control/ids.js';
import { mutateInOrg, readInOrg } from '../control/org-access.js';
import { STEP_NAMES } from '../domain/build.js';
import type { ComponentSource } from '../domain/component.js';
import { invalid, notFound, RondoError } from '../domain/errors.js';
import type { Keyring } from '../secrets/envelope.js';
import type { BuildStepRecord } from '../store/schema.js';
import type { Executor } from '../store/store.js';
import type { BuildChanges } from './build-changes.js';
import { resolveBranchHead, SourceError } from './git-source.js';

export interface Build {
  id: string;
  project: string;
  component: string;
  commit: string | null;
  status: 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled' | 'replaced' | 'collected';
  image: string | null;
  reason: string | null;
  steps: BuildStepRecord[];
  createdBy: string;
  createdAt: string;
  finishedAt: string | null;
}

export interface BuildUseDeps extends ControlDeps {
  enqueueBuild: (id: string) => void;
  /** Wakes log followers when a build of this process changes. */
  changes: BuildChanges;
  gitTimeoutMs: number;
  /** Decrypts a private repository's token for `git ls-remote`. */
  keyring: Keyring;
}

function buildsOf(db: Executor, orgId: string) {
  return db
    .selectFrom('builds as b')
    .innerJoin('components as c', 'c.id', 'b.component_id')
    .innerJoin('projects as p', 'p.id', 'c.project_id')
    .selectAll('b')
    .select(['c.name as component', 'p.name as project'])
    .where('b.org_id', '=', orgId);
}

type BuildRow = Awaited<ReturnType<ReturnType<typeof buildsOf>['executeTakeFirstOrThrow']>>;

const toBuild = (r: BuildRow): Build => ({
  id: r.id,
  project: r.project,
  component: r.component,
  commit: r.commit,
  status: r.status as Build['status'],
  image: r.image,
  reason: r.reason,
  steps: r.steps,
  createdBy: r.created_by,
  createdAt: r.created_at.toISOString(),
  finishedAt: r.finished_at ? r.finished_at.toISOString() : null,
});

/** Same commit + same build settings = same image (build once, §4). */
export function configHash(
  preset: string | null,
  configs: Record<string, string>,
  buildScope: readonly { key: string; valueId: string }[] = [],
): string {
  const sorted = Object.fromEntries(Object.entries(configs).sort(([a], [b]) => a.localeCompare(b)));
  // The build scope counts by value id: a changed build argument or secret is a different build.
  const inputs = buildScope.map((i) => `${i.key}=${i.valueId}`).sort();
  return createHash('sha256')
    .update(JSON.stringify(inputs.length ? { preset, configs: sorted, inputs } : { preset, configs: sorted }))
    .digest('hex')
    .slice(0, 16);
}

/**
 * Starts a build of one commit (default: the head of the component's branch). A commit that
 * already has a successful build with the same settings is not built again: that build is
 * returned with `reused: true` (unless `force`).
 */
export async function createBuild(
  deps: BuildUseDeps,
  ctx: RequestContext,
  orgName: string,
  project: string,
  componentName: string,
  input: { commit?: string; branch?: string; force?: boolean; requestedBy?: 'webhook' | 'poll' },
): Promise<{ build: Build; reused: boolean }> {
  if (input.commit && !/^[0-9a-f]{40}$/.test(input.commit)) {
    throw invalid([{ field: 'commit', message: 'must be a full 40-character commit id' }]);
  }
  const { org } = await readInOrg(deps, ctx, orgName);
  const c = await deps.store.db
    .selectFrom('components as c')
    .innerJoin('projects as p', 'p.id', 'c.project_id')
    .select(['c.id', 'c.source', 'c.build_preset', 'c.build_configs'])
    .where('c.org_id', '=', org.id)
    .where('p.name', '=', project)
    .where('c.name', '=', componentName)
    .executeTakeFirst();
  if (!c) throw notFound('component', `${project}/${componentName}`);
  const source = c.source as ComponentSource;
  if (source.kind !== 'git')
    throw invalid([
      { field: 'component', message: 'an image component is not built; deploy its image instead' },
    ]);
  let commit = input.commit;
  if (!commit) {
    try {
      commit = await resolveBranchHead(
        source.repoUrl,
        input.branch ?? source.branch,
        deps.gitTimeoutMs,
        await sourceTokenOf(deps.store.db, deps.keyring, c.id),
      );
    } catch (err) {
      const message = err instanceof SourceError ? err.message : String(err);
      throw new RondoError('RONDO_ERR_INPUT_INVALID', message, {
        fields: [{ field: input.branch ? 'branch' : 'source.branch', message }],
      });
    }
  }
  const hash = configHash(
    c.build_preset,
    c.build_configs,
    await draftItems(deps.store.db, c.id, BUILD_SCOPE),
  );
  if (!input.force) {
    const done = await buildsOf(deps.store.db, org.id)
      .where('b.component_id', '=', c.id)
      .where('b.commit', '=', commit)
      .where('b.config_hash', '=', hash)
      .where('b.status', '=', 'succeeded')
      .orderBy('b.created_at', 'desc')
      .executeTakeFirst();
    if (done) return { build: toBuild(done), reused: true };
  }
  const id = newId('bld');
  const spec = {
    permission: 'component:write',
    action: 'build.create',
    resourceType: 'build',
    resource: `${project}/${componentName}@${commit.slice(0, 12)}`,
  } as const;
  await mutateInOrg(deps, ctx, orgName, spec, async (tx) => {
    await tx
      .insertInto('builds')
      .values({
        id,
        org_id: org.id,
        component_id: c.id,
        commit,
        // Git automation marks its builds, so a later push can take over one still queued.
        requested_ref: input.requestedBy
          ? `${input.requestedBy}:${commit}`
          : (input.commit ?? `branch:${input.branch ?? source.branch}`),
        config_hash: hash,
        status: 'queued',
        steps: JSON.stringify(STEP_NAMES.map((name) => ({ name, status: 'queued', log: '' }))),
        created_by: ctx.actor.userName,
      })
      .execute();
  });
  deps.enqueueBuild(id);
  return {
    build: toBuild(await buildsOf(deps.store.db, org.id).where('b.id', '=', id).executeTakeFirstOrThrow()),
    reused: false,
  };
}

export async function getBuild(
  deps: ControlDeps,
  ctx: RequestContext,
  orgName: string,
  id: string,
): Promise<Build> {
  const { org } = await readInOrg(deps, ctx, orgName);
  const row = await buildsOf(deps.store.db, org.id).where('b.id', '=', id).executeTakeFirst();
  if (!row) throw notFound('build', id);
  return toBuild(row);
}

export async function listBuilds(
  deps: ControlDeps,
  ctx: RequestContext,
  orgName: string,
  project: string,
  component: string,
): Promise<Build[]> {
  const { org } = await readInOrg(deps, ctx, orgName);
  const rows = await buildsOf(deps.store.db, org.id)
    .where('p.name', '=', project)
    .where('c.name', '=', component)
    .orderBy('b.created_at', 'desc')
    .limit(50)
    .execute();
  return rows.map(toBuild);
}

/**
 * Cancels a queued or running build. A running one stops before its next step (a step in
 * progress finishes); nothing it built is pushed or deployed.
 */
export async function cancelBuild(
  deps: BuildUseDeps,
  ctx: RequestContext,
  orgName: string,
  id: string,
): Promise<Build> {
  const spec = {
    permission: 'component:write',
    action: 'build.cancel',
    resourceType: 'build',
    resource: id,
  } as const;
  const cancelled = await mutateInOrg(deps, ctx, orgName, spec, async (tx, { org }) => {
    const row = await buildsOf(tx, org.id).where('b.id', '=', id).executeTakeFirst();
    if (!row) throw notFound('build', id);
    if (row.status !== 'queued' && row.status !== 'running') {
      throw new RondoError(
        'RONDO_ERR_CONFLICT_IN_PROGRESS',
        `build ${id} already ended (${row.status}); only queued or running builds can be cancelled`,
      );
    }
    await tx
      .updateTable('builds')
      .set({ status: 'cancelled', reason: `cancelled by ${ctx.actor.userName}`, finished_at: new Date() })
      .where('id', '=', id)
      .execute();
    return toBuild(await buildsOf(tx, org.id).where('b.id', '=', id).executeTakeFirstOrThrow());
  });
  deps.changes.changed(id);
  return cancelled;
}

/** How long a follower waits for news of a build before reading the store anyway. */
const FOLLOW_FALLBACK_MS = 1000;

/**
 * The build's log, step by step; with `follow`, yields new lines until the build ends, and the
 * running step's progress whenever it changes as a line that starts with `\r` (a terminal
 * rewrites it in place; it is never stored).
 */
export async function* buildLog(
  deps: BuildUseDeps,
  ctx: RequestContext,
  orgName: string,
  id: string,
  follow: boolean,
): AsyncGenerator<string> {
  const { org } = await readInOrg(deps, ctx, orgName);
  const printed = new Map<string, number>();
  let progress: string | undefined;
  for (;;) {
    // Listening before reading: a write between the read and the wait still wakes this follower.
    const news = follow ? deps.changes.next(id, FOLLOW_FALLBACK_MS) : undefined;
    const row = await buildsOf(deps.store.db, org.id).where('b.id', '=', id).executeTakeFirst();
    if (!row) throw notFound('build', id);
    for (const s of row.steps) {
      const seen = printed.get(s.name) ?? 0;
      if (s.log.length > seen) {
        yield `${seen === 0 ? `--- ${s.name}\n` : ''}${s.log.slice(seen)}`;
        printed.set(s.name, s.log.length);
      }
    }
    const ended = row.status !== 'queued' && row.status !== 'running';
    const now = follow && !ended ? deps.changes.progressOf(id) : undefined;
    if (now !== undefined && now !== progress) yield `\r${now}\n`;
    progress = now;
    if (!follow || ended) {
      if (ended) yield `--- ${row.status}${row.reason ? `: ${row.reason}` : ''}\n`;
      return;
    }
    await news;
  }
}
