import { Cron } from 'croner';
import type { FieldError } from './errors.js';

/** What decides whether a scheduled run starts while an earlier one still runs (§8). */
export const CONCURRENCY_POLICIES = ['forbid', 'allow', 'replace'] as const;
export type ConcurrencyPolicy = (typeof CONCURRENCY_POLICIES)[number];

export const TASK_TYPES = ['scheduled-task', 'manual-task'] as const;
export function isTask(componentType: string): boolean {
  return (TASK_TYPES as readonly string[]).includes(componentType);
}

/**
 * How a task deployment runs its executions; frozen with the deployment like the rest of its
 * spec, so changing a schedule is a new deployment (§8).
 */
export interface TaskSpec {
  /** Scheduled tasks only. */
  schedule?: { cron: string; timezone: string };
  concurrencyPolicy: ConcurrencyPolicy;
  timeoutSeconds: number;
  /** A run missed while the control plane was down still starts if it was due this recently. */
  startingDeadlineSeconds: number;
}

export const TASK_DEFAULTS = {
  concurrencyPolicy: 'forbid',
  timeoutSeconds: 300,
  startingDeadlineSeconds: 300,
} as const satisfies Omit<TaskSpec, 'schedule'>;

export const EXECUTION_TRIGGERS = ['schedule', 'manual', 'api'] as const;
export type ExecutionTrigger = (typeof EXECUTION_TRIGGERS)[number];

/**
 * `running` and the four ends of §8, plus two records of runs that never started: `skipped`
 * (forbid, the previous run still going) and `missed` (due while the control plane was down,
 * past its starting deadline).
 */
export const EXECUTION_STATUSES = [
  'running',
  'succeeded',
  'failed',
  'timed-out',
  'cancelled',
  'skipped',
  'missed',
] as const;
export type ExecutionStatus = (typeof EXECUTION_STATUSES)[number];

export interface ScheduleRules {
  /** Six-field (seconds) expressions; a test-only setting. */
  allowSeconds: boolean;
  /** The shortest interval between two runs a schedule may have. */
  minIntervalSeconds: number;
}

/** Parses a cron expression for a time zone; throws with croner's own message when it is not one. */
export function cronOf(expression: string, timezone: string, allowSeconds: boolean): Cron {
  return new Cron(expression, { timezone, mode: allowSeconds ? '5-or-6-parts' : '5-part', paused: true });
}

/** Checks a schedule: a cron expression croner accepts, a real IANA zone, not too frequent. */
export function scheduleProblems(
  schedule: { cron: string; timezone: string },
  rules: ScheduleRules,
  field = 'schedule',
): FieldError[] {
  try {
    new Intl.DateTimeFormat('en', { timeZone: schedule.timezone });
  } catch {
    return [
      {
        field: `${field}.timezone`,
        message: `'${schedule.timezone}' is not an IANA time zone; use a name like UTC or Europe/Berlin`,
      },
    ];
  }
  let cron: Cron;
  try {
    cron = cronOf(schedule.cron, schedule.timezone, rules.allowSeconds);
  } catch (err) {
    const fields = schedule.cron.trim().split(/\s+/).length;
    const hint =
      fields === 6 && !rules.allowSeconds
        ? '; use 5 fields (minute hour day-of-month month day-of-week)'
        : '';
    return [
      {
        field: `${field}.cron`,
        message: `'${schedule.cron}' is not a cron expression: ${err instanceof Error ? err.message : err}${hint}`,
      },
    ];
  }
  const runs = cron.nextRuns(20);
  if (runs.length === 0)
    return [
      { field: `${field}.cron`, message: `'${schedule.cron}' never runs; give a schedule that recurs` },
    ];
  let shortest = Number.POSITIVE_INFINITY;
  for (let i = 1; i < runs.length; i++)
    shortest = Math.min(shortest, (runs[i]!.getTime() - runs[i - 1]!.getTime()) / 1000);
  if (shortest < rules.minIntervalSeconds)
    return [
      {
        field: `${field}.cron`,
        message: `'${schedule.cron}' runs every ${shortest} s; this site allows at most one run every ${rules.minIntervalSeconds} s`,
      },
    ];
  return [];
}

/** Arguments are passed as an argv array, never through a shell; control characters have no place there. */
export function argProblems(args: readonly string[], field = 'args'): FieldError[] {
  const problems: FieldError[] = [];
  if (args.length > 100) problems.push({ field, message: `${args.length} arguments; at most 100` });
  args.forEach((a, i) => {
    if (/[\n\r\0]/.test(a))
      problems.push({
        field: `${field}[${i}]`,
        message: 'contains a newline or NUL; pass each value as one line (use configuration for text blocks)',
      });
    else if (a.length > 4096)
      problems.push({ field: `${field}[${i}]`, message: `${a.length} characters; at most 4096` });
  });
  return problems;
}
