/**
 * The level a runtime log line says it has, when it says one (§11): Choreo's four levels. JSON
 * lines (`{"level": "warn"}`, pino's numbers, `severity`), logfmt (`level=error`) and a leading
 * word (`ERROR …`, `[warn] …`, `error: …`) are read; anything else has no level.
 */
export const LOG_LEVELS = ['error', 'warn', 'info', 'debug'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

// A Map: the words come from workloads' output, and a plain object would answer `constructor`.
const WORDS = new Map<string, LogLevel>(
  Object.entries({
    fatal: 'error',
    panic: 'error',
    critical: 'error',
    crit: 'error',
    emergency: 'error',
    alert: 'error',
    error: 'error',
    err: 'error',
    warning: 'warn',
    warn: 'warn',
    notice: 'info',
    info: 'info',
    information: 'info',
    debug: 'debug',
    trace: 'debug',
    verbose: 'debug',
  } satisfies Record<string, LogLevel>),
);
const wordLevel = (word: string): LogLevel | undefined => WORDS.get(word.toLowerCase());

/** pino and bunyan: 10 trace, 20 debug, 30 info, 40 warn, 50 error, 60 fatal. */
function numericLevel(n: number): LogLevel | undefined {
  if (!Number.isFinite(n) || n < 10) return undefined;
  if (n >= 50) return 'error';
  if (n >= 40) return 'warn';
  if (n >= 30) return 'info';
  return 'debug';
}

function levelOf(value: unknown): LogLevel | undefined {
  if (typeof value === 'number') return numericLevel(value);
  if (typeof value === 'string') return wordLevel(value.trim());
  return undefined;
}

// A leading level word: `ERROR x`, `[ERROR] x`, `error: x`, `<warn> x`. Lower case only with a
// bracket or colon, so that "Error handling enabled" or "info about" are not read as levels.
const LEADING_UPPER = /^\s*[[<(]?([A-Z]{3,11})(?:[\]>):]|\s|$)/;
const LEADING_MARKED = /^\s*(?:[[<(]([a-zA-Z]{3,11})[\]>)]|([a-zA-Z]{3,11}):)/;
const LOGFMT = /(?:^|\s)(?:level|lvl|severity)=["']?([a-zA-Z]+|\d+)/;

export function parseLevel(line: string): LogLevel | undefined {
  const start = line.trimStart();
  if (start.startsWith('{')) {
    try {
      const json: unknown = JSON.parse(start);
      if (json && typeof json === 'object' && !Array.isArray(json)) {
        const o = json as Record<string, unknown>;
        const found = levelOf(o.level) ?? levelOf(o.severity) ?? levelOf(o.lvl);
        if (found) return found;
      }
    } catch {
      // Not JSON after all: read it as plain text.
    }
  }
  const upper = LEADING_UPPER.exec(line)?.[1];
  const byUpper = upper && wordLevel(upper);
  if (byUpper) return byUpper;
  const marked = LEADING_MARKED.exec(line);
  const word = marked?.[1] ?? marked?.[2];
  const byWord = word && wordLevel(word);
  if (byWord) return byWord;
  const logfmt = LOGFMT.exec(line)?.[1];
  if (logfmt) return /^\d+$/.test(logfmt) ? numericLevel(Number(logfmt)) : wordLevel(logfmt);
  return undefined;
}
