import type { Cron } from 'croner';
import type { Logger } from 'pino';
import { Periodic } from '../control/periodic.js';
import { cronOf, type ScheduleRules, type TaskSpec } from '../domain/task.js';
import type { Store } from '../store/store.js';
import type { ExecutionRunner } from './executions.js';

export interface SchedulerDeps {
  store: Store;
  runner: ExecutionRunner;
  logger: Logger;
  rules: ScheduleRules;
  /** Period of the level-based resync with the store (new deployments, suspend, resume). */
  resyncMs: number;
}

/** A schedule armed in this process: the active deployment it runs and the timer of its next due time. */
interface Armed {
  deploymentId: string;
  componentId: string;
  environmentId: string;
  task: TaskSpec & { schedule: NonNullable<TaskSpec['schedule']> };
  cron: Cron;
  timer?: NodeJS.Timeout;
}

/** Timers longer than this are re-checked (setTimeout's range, clock changes). */
const MAX_TIMER_MS = 60_000;
/** How many missed due times a restart looks through before it stops counting. */
const MAX_CATCH_UP = 10_000;

/**
 * Arms the schedule of every active scheduled-task deployment that is not suspended (§8) and
 * starts its executions at their due times. Level-based like the reconciler: each sync reads the
 * desired schedules from the store and arms, re-arms or disarms to match. croner parses the
 * expressions and computes due times in their time zones; the timers are Rondo's, so each run
 * knows its exact due time (which makes a run once-only across control planes, see executions).
 */
export class Scheduler {
  readonly #deps: SchedulerDeps;
  readonly #log: Logger;
  readonly #armed = new Map<string, Armed>();
  readonly #periodic: Periodic;
  #firstSync = true;
  #stopped = false;
  #pass: Promise<void> = Promise.resolve();

  constructor(deps: SchedulerDeps) {
    this.#deps = deps;
    this.#log = deps.logger.child({ part: 'scheduler' });
    this.#periodic = new Periodic(
      () => this.sync(),
      deps.resyncMs,
      (err) =>
        this.#log.warn({ err: err instanceof Error ? err.message : err }, 'schedule sync failed; will retry'),
    );
  }

  start(): void {
    this.#stopped = false;
    this.#periodic.start();
  }

  /** Disarms every schedule; a sync in progress finishes first. */
  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#periodic.stop();
    for (const a of this.#armed.values()) if (a.timer) clearTimeout(a.timer);
    this.#armed.clear();
  }

  /** One pass; passes never overlap. */
  sync(): Promise<void> {
    const next = this.#pass.catch(() => undefined).then(() => this.#syncOnce());
    this.#pass = next.catch(() => undefined);
    return next;
  }

  /** The next due time of a (component, environment), when armed here. */
  nextDue(componentId: string, environmentId: string): Date | undefined {
    const a = this.#armed.get(`${componentId}/${environmentId}`);
    return a ? (a.cron.nextRun() ?? undefined) : undefined;
  }

  async #syncOnce(): Promise<void> {
    if (this.#stopped) return;
    const { store } = this.#deps;
    const rows = await store.db
      .selectFrom('deployments as d')
      .innerJoin('components as c', 'c.id', 'd.component_id')
      .leftJoin('task_schedules as s', (j) =>
        j.onRef('s.component_id', '=', 'd.component_id').onRef('s.environment_id', '=', 'd.environment_id'),
      )
      .select(['d.id', 'd.component_id', 'd.environment_id', 'd.spec', 's.suspended', 's.last_due_at'])
      .where('d.status', '=', 'active')
      .where('c.type', '=', 'scheduled-task')
      .execute();
    const catchUp = this.#firstSync;
    this.#firstSync = false;
    const wanted = new Set<string>();
    for (const row of rows) {
      const task = row.spec.task;
      if (!task?.schedule) continue;
      const key = `${row.component_id}/${row.environment_id}`;
      if (row.last_due_at === null) {
        // A new schedule starts now: nothing before it is due.
        await store.db
          .insertInto('task_schedules')
          .values({
            component_id: row.component_id,
            environment_id: row.environment_id,
            last_due_at: new Date(),
            updated_at: new Date(),
          })
          .onConflict((oc) => oc.columns(['component_id', 'environment_id']).doNothing())
          .execute();
      }
      if (row.suspended) continue;
      wanted.add(key);
      const current = this.#armed.get(key);
      const schedule = task.schedule;
      if (
        current &&
        current.deploymentId === row.id &&
        current.task.schedule.cron === schedule.cron &&
        current.task.schedule.timezone === schedule.timezone
      )
        continue;
      if (current?.timer) clearTimeout(current.timer);
      let cron: Cron;
      try {
        cron = cronOf(schedule.cron, schedule.timezone, this.#deps.rules.allowSeconds);
      } catch (err) {
        // Validated when deployed; a site that tightened its rules since gets a log line, not a crash.
        this.#log.warn({ deployment: row.id, err: String(err) }, 'schedule no longer parses; not armed');
        continue;
      }
      const armed: Armed = {
        deploymentId: row.id,
        componentId: row.component_id,
        environmentId: row.environment_id,
        task: { ...task, schedule },
        cron,
      };
      this.#armed.set(key, armed);
      const from = catchUp && row.last_due_at ? new Date(row.last_due_at) : new Date();
      if (catchUp && row.last_due_at) await this.#catchUp(armed, from);
      this.#arm(key, armed, new Date(Math.max(Date.now(), from.getTime())));
    }
    for (const [key, a] of this.#armed) {
      if (wanted.has(key)) continue;
      if (a.timer) clearTimeout(a.timer);
      this.#armed.delete(key);
    }
  }

  /**
   * Due times passed while the control plane was down: the newest runs once if it is within the
   * starting deadline; the rest are recorded as one `missed` execution.
   */
  async #catchUp(a: Armed, lastDue: Date): Promise<void> {
    const now = Date.now();
    const missed: Date[] = [];
    let due = a.cron.nextRun(lastDue);
    while (due && due.getTime() <= now && missed.length < MAX_CATCH_UP) {
      missed.push(due);
      due = a.cron.nextRun(due);
    }
    if (missed.length === 0) return;
    const newest = missed[missed.length - 1]!;
    const runNewest = now - newest.getTime() <= a.task.startingDeadlineSeconds * 1000;
    const skipped = runNewest ? missed.slice(0, -1) : missed;
    if (skipped.length > 0) {
      const first = skipped[0]!;
      const last = skipped[skipped.length - 1]!;
      await this.#deps.runner.record(
        a.deploymentId,
        'missed',
        first,
        skipped.length === 1
          ? `due at ${first.toISOString()} while the control plane was down, past the starting deadline of ${a.task.startingDeadlineSeconds} s`
          : `${skipped.length} runs due from ${first.toISOString()} to ${last.toISOString()} were missed while the control plane was down (starting deadline ${a.task.startingDeadlineSeconds} s)`,
      );
    }
    await this.#setLastDue(a, newest);
    if (runNewest) await this.#run(a, newest);
  }

  #arm(key: string, a: Armed, after: Date): void {
    const due = a.cron.nextRun(after);
    if (!due) return;
    const wait = Math.min(MAX_TIMER_MS, Math.max(0, due.getTime() - Date.now()));
    a.timer = setTimeout(() => {
      if (this.#armed.get(key) !== a) return;
      if (Date.now() < due.getTime()) return this.#arm(key, a, after); // a long wait, re-checked
      void this.#fire(key, a, due);
    }, wait);
    a.timer.unref();
  }

  async #fire(key: string, a: Armed, due: Date): Promise<void> {
    // The next due time is armed first, so a slow start never delays it.
    const late = Date.now() - due.getTime() > a.task.startingDeadlineSeconds * 1000;
    this.#arm(key, a, late ? new Date() : due);
    try {
      await this.#setLastDue(a, due);
      // Suspended (or its deployment gone) while this due time was being recorded: no run.
      if (!this.#armed.has(key)) return;
      await this.#run(a, due);
    } catch (err) {
      this.#log.warn(
        { deployment: a.deploymentId, due, err: err instanceof Error ? err.message : err },
        'scheduled run could not start',
      );
    }
  }

  /** Starts one scheduled run under the deployment's concurrency policy. */
  async #run(a: Armed, due: Date): Promise<void> {
    const { runner } = this.#deps;
    const running = await runner.running(a.componentId, a.environmentId);
    if (running.length > 0 && a.task.concurrencyPolicy === 'forbid') {
      await runner.record(
        a.deploymentId,
        'skipped',
        due,
        `execution ${running[0]} was still running (concurrency policy forbid)`,
      );
      return;
    }
    if (a.task.concurrencyPolicy === 'replace')
      await Promise.all(
        running.map((id) =>
          runner.end(id, { status: 'cancelled', reason: `replaced by the run due at ${due.toISOString()}` }),
        ),
      );
    await runner.start(a.deploymentId, {
      trigger: 'schedule',
      triggeredBy: 'scheduler',
      args: [],
      dueAt: due,
    });
  }

  async #setLastDue(a: Armed, due: Date): Promise<void> {
    await this.#deps.store.db
      .updateTable('task_schedules')
      .set({ last_due_at: due, updated_at: new Date() })
      .where('component_id', '=', a.componentId)
      .where('environment_id', '=', a.environmentId)
      .where('last_due_at', '<', due)
      .execute();
  }
}
