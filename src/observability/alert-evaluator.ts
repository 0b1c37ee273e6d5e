import { type RawBuilder, sql } from 'kysely';
import type { Logger } from 'pino';
import { Periodic } from '../control/periodic.js';
import { ALERT_PARAMS, type AlertParams, RONDO_EVALUATED } from '../domain/alerts.js';
import type { Store } from '../store/store.js';
import { fireIncident, resolveIncident } from './alert-incidents.js';
import { type Match, MatchWindows } from './match-window.js';

export interface AlertEvaluatorDeps {
  store: Store;
  logger: Logger;
  now?: () => Date;
  /** Keeps Prometheus' rule file in step with the latency, traffic and resource rules (each pass). */
  prometheusRules?: { sync(): Promise<void> };
}

interface RuleRow {
  id: string;
  kind: string;
  params: Record<string, unknown>;
  state: string;
  component_id: string;
  environment_id: string;
  created_at: Date;
}

/** What a rule's signal says now: firing with a summary a person reads, or clear. */
type Verdict = { firing: true; summary: string } | { firing: false; summary: string };

/** Deployment event kinds per system event a rule names. */
const SYSTEM_EVENTS = { crash: ['crash', 'crash-loop'], oom: ['oom-killed'] } as const;

/** `%` and `_` in a phrase are text, not patterns. */
const likeLiteral = (s: string) => `%${s.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;

/**
 * Evaluates the rules Prometheus cannot (log phrases over stored runtime logs, build failures
 * from the builds table, crashes and OOM kills from the deployment events) on a timer, and keeps
 * each rule's firing/resolved state and the one history (`alert_incidents`).
 */
export class AlertEvaluator {
  readonly #deps: AlertEvaluatorDeps;
  readonly #periodic: Periodic;
  readonly #log: Logger;
  readonly #windows = new MatchWindows();

  constructor(deps: AlertEvaluatorDeps, everyMs = 15_000) {
    this.#deps = deps;
    this.#log = deps.logger.child({ part: 'alert-evaluator' });
    this.#periodic = new Periodic(
      () => this.evaluate(),
      everyMs,
      (err) => this.#log.warn({ err: String(err) }, 'evaluating alert rules failed'),
    );
  }

  start(): void {
    this.#periodic.start();
  }

  stop(): Promise<void> {
    return this.#periodic.stop();
  }

  /** One pass over every enabled rule Rondo evaluates, after bringing Prometheus' rules up to date. */
  async evaluate(): Promise<void> {
    await this.#deps.prometheusRules
      ?.sync()
      .catch((err: unknown) =>
        this.#log.warn({ err: String(err) }, 'the Prometheus alert rules could not be updated'),
      );
    const { db } = this.#deps.store;
    const rules = await db
      .selectFrom('alert_rules')
      .select(['id', 'kind', 'params', 'state', 'component_id', 'environment_id', 'created_at'])
      .where('enabled', '=', true)
      .where('kind', 'in', [...RONDO_EVALUATED])
      .execute();
    this.#windows.keepOnly(new Set(rules.map((r) => r.id)));
    for (const rule of rules) {
      const now = this.#deps.now?.() ?? new Date();
      try {
        const v = await this.#verdict(rule, now);
        if (v.firing && rule.state !== 'firing')
          await db.transaction().execute((tx) => fireIncident(tx, rule.id, v.summary, now, 'rondo'));
        else if (!v.firing && rule.state === 'firing')
          await db.transaction().execute((tx) => resolveIncident(tx, rule.id, now, v.summary));
      } catch (err) {
        // One rule's failure (a dropped connection) must not keep the others from being evaluated.
        this.#log.warn({ rule: rule.id, err: String(err) }, 'an alert rule could not be evaluated');
      }
    }
  }

  #verdict(rule: RuleRow, now: Date): Promise<Verdict> {
    if (rule.kind === 'log') return this.#logPhrase(rule, ALERT_PARAMS.log.parse(rule.params), now);
    if (rule.kind === 'system') return this.#system(rule, ALERT_PARAMS.system.parse(rule.params), now);
    if (rule.kind === 'status-code')
      return this.#statusCodes(rule, ALERT_PARAMS['status-code'].parse(rule.params), now);
    return this.#buildFailure(rule);
  }

  async #logPhrase(rule: RuleRow, p: AlertParams<'log'>, now: Date): Promise<Verdict> {
    const fromUs = BigInt(now.getTime() - p.intervalMinutes * 60_000) * 1000n;
    const n = await this.#count(
      rule,
      p.count,
      fromUs,
      'runtime_logs',
      sql`message ilike ${likeLiteral(p.phrase)}`,
    );
    const what = `'${p.phrase}' in ${n}${n >= p.count ? '+' : ''} log lines in the last ${p.intervalMinutes} min (threshold ${p.count})`;
    return n >= p.count
      ? { firing: true, summary: what }
      : {
          firing: false,
          summary: `fewer than ${p.count} lines with '${p.phrase}' in the last ${p.intervalMinutes} min`,
        };
  }

  /**
   * How many of the component's rows in `table` since `fromUs` match (up to `threshold`), reading
   * only the rows stored since the rule's last pass. The first pass reads the whole table up to the
   * newest id (the component's time index finds the window); later ones read the ids stored since,
   * fenced (`offset 0`) so the planner walks the primary key instead of the component's whole
   * window in the time index.
   */
  #count(
    rule: RuleRow,
    threshold: number,
    fromUs: bigint,
    table: 'runtime_logs' | 'gateway_requests',
    matches: RawBuilder<unknown>,
  ): Promise<number> {
    const db = this.#deps.store.logs.db;
    const rows = (after: bigint | undefined, upTo: bigint) =>
      after === undefined
        ? sql`${sql.table(table)} where id <= ${upTo.toString()}`
        : sql`(select * from ${sql.table(table)} where id > ${after.toString()} and id <= ${upTo.toString()} offset 0) recent where true`;
    return this.#windows.count(
      rule.id,
      JSON.stringify(rule.params),
      threshold,
      fromUs,
      async () => {
        const { rows: max } = await sql<{
          id: string | null;
        }>`select max(id) as id from ${sql.table(table)}`.execute(db);
        return BigInt(max[0]?.id ?? 0);
      },
      async (after, upTo) => {
        const found = await sql<{ id: string; at_us: string }>`
          select id, at_us from ${rows(after, upTo)}
            and component_id = ${rule.component_id} and environment_id = ${rule.environment_id}
            and at_us >= ${fromUs.toString()} and ${matches}
          order by at_us desc limit ${threshold}`.execute(db);
        return found.rows.map((r): Match => ({ id: String(r.id), atUs: BigInt(r.at_us) }));
      },
    );
  }

  /** Answers with the rule's codes in the gateway's access log (`gateway_requests`) within the interval. */
  async #statusCodes(rule: RuleRow, p: AlertParams<'status-code'>, now: Date): Promise<Verdict> {
    const fromUs = BigInt(now.getTime() - p.intervalMinutes * 60_000) * 1000n;
    const n = await this.#count(
      rule,
      p.count,
      fromUs,
      'gateway_requests',
      sql`status in (${sql.join(p.codes)})`,
    );
    const codes = p.codes.join(', ');
    return n >= p.count
      ? {
          firing: true,
          summary: `${n}+ answers with ${codes} in the last ${p.intervalMinutes} min (threshold ${p.count})`,
        }
      : {
          firing: false,
          summary: `fewer than ${p.count} answers with ${codes} in the last ${p.intervalMinutes} min`,
        };
  }

  async #system(rule: RuleRow, p: AlertParams<'system'>, now: Date): Promise<Verdict> {
    const kinds = p.events.flatMap((e) => SYSTEM_EVENTS[e]);
    const from = new Date(Math.max(now.getTime() - p.periodMinutes * 60_000, rule.created_at.getTime()));
    const latest = await this.#deps.store.db
      .selectFrom('deployment_events as ev')
      .innerJoin('deployments as d', 'd.id', 'ev.deployment_id')
      .select(['ev.kind', 'ev.message', 'ev.created_at', 'd.name'])
      .where('d.component_id', '=', rule.component_id)
      .where('d.environment_id', '=', rule.environment_id)
      .where('ev.kind', 'in', kinds)
      .where('ev.created_at', '>', from)
      .orderBy('ev.created_at', 'desc')
      .limit(1)
      .executeTakeFirst();
    if (!latest)
      return {
        firing: false,
        summary: `no ${p.events.join(' or ')} event in the last ${p.periodMinutes} min`,
      };
    const firstLine = latest.message.split('\n')[0] ?? '';
    return { firing: true, summary: `${latest.kind} in deployment ${latest.name ?? '?'}: ${firstLine}` };
  }

  /** Firing from a failed build until the next build of the component succeeds (builds after the rule was made). */
  async #buildFailure(rule: RuleRow): Promise<Verdict> {
    const last = await this.#deps.store.db
      .selectFrom('builds')
      .select(['id', 'status', 'commit', 'reason'])
      .where('component_id', '=', rule.component_id)
      .where('status', 'in', ['succeeded', 'failed'])
      .where('finished_at', '>', rule.created_at)
      .orderBy('finished_at', 'desc')
      .limit(1)
      .executeTakeFirst();
    if (last?.status !== 'failed')
      return { firing: false, summary: last ? `build ${last.id} succeeded` : 'no failed build' };
    const commit = last.commit ? ` of commit ${last.commit.slice(0, 12)}` : '';
    return {
      firing: true,
      summary: `build ${last.id}${commit} failed: ${(last.reason ?? '').split('\n')[0]}`,
    };
  }
}
