/**
 * Text that comes from outside Rondo — git, the engine, BuildKit, a run's or a replica's output,
 * a webhook payload, an error message — made storable before it reaches the store. PostgreSQL
 * refuses NUL in `text` and `\u0000` in `jsonb`, and jsonb refuses lone surrogates: one such
 * byte would make the write that records a build's or a run's end fail, and the record would
 * stay `running` forever. Terminal controls go too, so a stored log cannot rewrite the screen
 * of whoever reads it.
 */

/** What stands in for a byte or character that cannot be stored or shown. */
export const REPLACEMENT = '\ufffd';

/** Default cap for one message (an error, a reason, a log line). */
export const MESSAGE_MAX_CHARS = 16 * 1024;

// ANSI CSI sequences (colours, cursor moves) and OSC sequences (titles, links): formatting only.
// biome-ignore lint/suspicious/noControlCharactersInRegex: these are the characters removed
const TERMINAL_SEQUENCE = /\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?/g;
// C0 controls but tab and newline, DEL, and C1 controls (some terminals read U+009B as CSI).
// biome-ignore lint/suspicious/noControlCharactersInRegex: these are the characters replaced
const CONTROL = /[\x00-\x08\x0b-\x1f\x7f-\x9f]/g;
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

export interface StorableOptions {
  /** At most this many characters are kept (default `MESSAGE_MAX_CHARS`). */
  maxChars?: number;
  /** Which end is kept when the text is longer: the start (messages) or the end (logs, where the last lines say why). */
  keep?: 'start' | 'end';
}

/**
 * `text` (bytes are read as UTF-8) as it can be stored: invalid UTF-8 and lone surrogates become
 * U+FFFD, terminal escape sequences are dropped, CR line ends become newlines, other control
 * characters (NUL included) become U+FFFD, and it is capped with a note of how much was dropped.
 */
export function storableText(text: string | Uint8Array, options: StorableOptions = {}): string {
  const decoded = typeof text === 'string' ? text : new TextDecoder().decode(text);
  const clean = decoded
    .replace(TERMINAL_SEQUENCE, '')
    .replace(/\r\n?/g, '\n')
    .replace(CONTROL, REPLACEMENT)
    .replace(LONE_SURROGATE, REPLACEMENT);
  const max = options.maxChars ?? MESSAGE_MAX_CHARS;
  if (clean.length <= max) return clean;
  const dropped = clean.length - max;
  // A cut may split a surrogate pair: the half left over becomes U+FFFD.
  return options.keep === 'end'
    ? `[${dropped} characters dropped] ${clean.slice(-max)}`.replace(LONE_SURROGATE, REPLACEMENT)
    : `${clean.slice(0, max)} [${dropped} characters dropped]`.replace(LONE_SURROGATE, REPLACEMENT);
}

/** An error (or anything thrown) as a storable message. */
export function storableError(err: unknown, options?: StorableOptions): string {
  return storableText(err instanceof Error ? err.message : String(err), options);
}

/** JSON for a jsonb column whose string values (payload values, messages) came from outside; keys are Rondo's own. */
export function storableJson(value: unknown, options?: StorableOptions): string {
  return JSON.stringify(value, (_key, v: unknown) => (typeof v === 'string' ? storableText(v, options) : v));
}
