import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import { storableError } from '../domain/storable-text.js';

/** Pauses between attempts: a dropped connection is usually replaced within a second. */
const BACKOFF_MS = [200, 1000, 3000];

/**
 * Writes how a record ended (a build's or a run's terminal state). A failed write is retried; if
 * the full write (state, reason, logs) keeps failing — a value the store refuses fails every
 * time — the `fallback` records the end without the payload and with why it could not be kept,
 * so the record does not stay `running` with nothing behind it. False when even that failed:
 * then the queue's or the runner's recovery at the next start ends the record.
 */
export async function writeTerminalState(
  log: Logger,
  what: string,
  full: () => Promise<unknown>,
  fallback: (whyNot: string) => Promise<unknown>,
  backoffMs: readonly number[] = BACKOFF_MS,
): Promise<boolean> {
  const fullFailed = await attempts(log, what, full, backoffMs);
  if (fullFailed === undefined) return true;
  const fallbackFailed = await attempts(log, what, () => fallback(fullFailed), backoffMs);
  if (fallbackFailed === undefined) return true;
  log.error(
    { record: what, reason: fallbackFailed },
    'could not record the end; recovery at the next start ends it',
  );
  return false;
}

/** Runs `write` until it succeeds (undefined) or every attempt failed (the last error). */
async function attempts(
  log: Logger,
  what: string,
  write: () => Promise<unknown>,
  backoffMs: readonly number[],
): Promise<string | undefined> {
  let error = '';
  for (let attempt = 0; attempt <= backoffMs.length; attempt++) {
    try {
      await write();
      return undefined;
    } catch (err) {
      error = storableError(err);
      log.warn({ record: what, attempt, reason: error }, 'could not record the end');
      if (attempt < backoffMs.length) await sleep(backoffMs[attempt]);
    }
  }
  return error;
}
