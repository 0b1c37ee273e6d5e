import type { BuildChanges } from './build-changes.js';

/** How often a running step tells its followers where it is (the brief asks for ≤ 2 s). */
const TICK_MS = 1000;
/** Output older than this makes the progress line say how long the step has been quiet. */
const QUIET_MS = 2000;

// biome-ignore lint/suspicious/noControlCharactersInRegex: finding them is the point
const ESCAPE_SEQUENCE = /\u001b\[[0-9;?]*[ -/]*[@-~]/g;
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding them is the point
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/g;

export interface StepProgress {
  /** The step printed a line (its last line shows when the step goes quiet). */
  saw(line: string): void;
  /** The step's own account of where it is (a push's layers in flight); `undefined` clears it. */
  detail(text: string | undefined): void;
  stop(): void;
}

/**
 * A running step's live progress line, every second: its elapsed time, then its own detail, or
 * the last line it printed and for how long it has been quiet (an `npm ci` that says nothing).
 * Followers show it; it never reaches the stored log.
 */
export function stepProgress(changes: BuildChanges, buildId: string, step: string): StepProgress {
  const started = Date.now();
  let detail: string | undefined;
  let last: { line: string; at: number } | undefined;
  const tick = () => {
    const now = Date.now();
    const elapsed = `${step} ${Math.round((now - started) / 1000)} s`;
    let text = elapsed;
    if (detail) text = `${elapsed}: ${detail}`;
    else if (last && now - last.at >= QUIET_MS)
      text = `${elapsed}, quiet for ${Math.round((now - last.at) / 1000)} s after: ${last.line.slice(0, 120)}`;
    changes.progress(buildId, text);
  };
  const timer = setInterval(tick, TICK_MS);
  timer.unref();
  return {
    saw(line) {
      // Shown on a terminal: no control characters or escape sequences from what the step printed.
      const trimmed = line.replace(ESCAPE_SEQUENCE, '').replace(CONTROL, ' ').trim();
      if (trimmed) last = { line: trimmed, at: Date.now() };
    },
    detail(text) {
      detail = text;
    },
    stop() {
      clearInterval(timer);
      changes.progress(buildId, undefined);
    },
  };
}
