import type { Logger } from 'pino';
import { remoteRefs } from '../builds/git-source.js';
import { sourceTokenOf } from '../configuration/source-token.js';
import { newId } from '../control/ids.js';
import { Periodic } from '../control/periodic.js';
import type { ComponentSource } from '../domain/component.js';
import { repositoryKey } from './push-matching.js';
import { dispatchPush, type WebhookDeps } from './webhook-receiver.js';

/** The longest a failing repository waits between polls, however many failures in a row. */
const MAX_BACKOFF_SECONDS = 3600;

/**
 * Polling (§9, F6) for repositories that cannot send webhooks: `git ls-remote` on each polled
 * repository at its interval; every ref whose commit moved is a push, matched and built as a
 * webhook delivery is (and recorded as a delivery from `poll`). The first poll only learns the
 * refs. Failures back off (interval × 2^failures, at most an hour). A poll is claimed in the
 * store before it runs, so one repository is never polled twice at once, even by two control
 * planes.
 */
export class RepositoryPoller {
  readonly #deps: WebhookDeps;
  readonly #log: Logger;
  readonly #periodic: Periodic;

  constructor(deps: WebhookDeps, tickMs: number) {
    this.#deps = deps;
    this.#log = deps.logger.child({ part: 'poller' });
    this.#periodic = new Periodic(
      () => this.pollDue(),
      tickMs,
      (err) => this.#log.warn({ err: String(err) }, 'poll pass failed'),
    );
  }

  start(): void {
    this.#periodic.start();
  }

  /** Stops polling; a poll in progress finishes first. */
  stop(): Promise<void> {
    return this.#periodic.stop();
  }

  /** Polls every repository whose turn it is (one pass). */
  async pollDue(now = new Date()): Promise<void> {
    const db = this.#deps.builds.store.db;
    const hooks = await db
      .selectFrom('repository_hooks as h')
      .innerJoin('organizations as o', 'o.id', 'h.org_id')
      .select([
        'h.id',
        'h.org_id',
        'o.name as org',
        'h.repo_key',
        'h.poll_interval_seconds',
        'h.polled_at',
        'h.poll_failures',
        'h.poll_heads',
      ])
      .where('h.poll_interval_seconds', 'is not', null)
      .execute();
    for (const h of hooks) {
      const wait = Math.min(h.poll_interval_seconds! * 2 ** h.poll_failures, MAX_BACKOFF_SECONDS) * 1000;
      if (h.polled_at && new Date(h.polled_at).getTime() + wait > now.getTime()) continue;
      // The claim: only the pass that moves polled_at from what it read polls.
      let claim = db.updateTable('repository_hooks').set({ polled_at: now }).where('id', '=', h.id);
      claim = h.polled_at
        ? claim.where('polled_at', '=', new Date(h.polled_at))
        : claim.where('polled_at', 'is', null);
      const claimed = await claim.executeTakeFirst();
      if (Number(claimed.numUpdatedRows) === 0) continue;
      await this.#poll(h);
    }
  }

  async #poll(h: {
    id: string;
    org_id: string;
    org: string;
    repo_key: string;
    poll_heads: Record<string, string>;
  }) {
    const db = this.#deps.builds.store.db;
    const components = await db
      .selectFrom('components')
      .select(['id', 'source'])
      .where('org_id', '=', h.org_id)
      .execute();
    const user = components.find((c) => {
      const s = c.source as ComponentSource;
      return s.kind === 'git' && repositoryKey(s.repoUrl) === h.repo_key;
    });
    if (!user) return;
    const url = (user.source as Extract<ComponentSource, { kind: 'git' }>).repoUrl;
    let heads: Record<string, string>;
    try {
      const token = await sourceTokenOf(db, this.#deps.builds.keyring, user.id);
      heads = await remoteRefs(url, this.#deps.gitTimeoutMs, token);
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      await db
        .updateTable('repository_hooks')
        .set((eb) => ({ poll_failures: eb('poll_failures', '+', 1), poll_error: reason }))
        .where('id', '=', h.id)
        .execute();
      this.#log.warn({ repository: url, reason }, 'poll failed; backing off');
      return;
    }
    const known = Object.keys(h.poll_heads).length > 0;
    const moved = Object.entries(heads).filter(([ref, sha]) => h.poll_heads[ref] !== sha);
    await db
      .updateTable('repository_hooks')
      .set({ poll_heads: JSON.stringify(heads), poll_failures: 0, poll_error: null })
      .where('id', '=', h.id)
      .execute();
    if (!known) return; // the first poll learns the refs
    for (const [ref, after] of moved) {
      const push = {
        ref,
        after,
        before: h.poll_heads[ref] ?? null,
        repositoryUrls: [url],
        changedFiles: null,
      };
      const { matched, skipped } = await dispatchPush(this.#deps, h, push, 'poll');
      await db
        .insertInto('webhook_deliveries')
        .values({
          id: newId('dlv'),
          hook_id: h.id,
          org_id: h.org_id,
          provider: 'poll',
          delivery_id: `poll:${ref}:${after}`,
          status: matched.length ? 202 : 200,
          outcome: matched.length ? 'built' : 'nothing-matched',
          detail: JSON.stringify({
            message: `${ref} moved to ${after.slice(0, 12)}`,
            builds: matched,
            skipped,
          }),
        })
        .onConflict((oc) => oc.columns(['hook_id', 'delivery_id']).doNothing())
        .execute();
    }
  }
}
