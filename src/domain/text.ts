/** True when `s` has a C0 control character or DEL (newlines included). */
export function hasControlCharacters(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c === 0x7f) return true;
  }
  return false;
}

/** True when `s` has anything outside 7-bit ASCII. */
export function hasNonAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7f) return true;
  return false;
}

/**
 * Why `s` cannot be stored, or `undefined`. PostgreSQL refuses NUL in text and jsonb, and lone
 * UTF-16 surrogates in jsonb (text columns would silently turn them into U+FFFD): neither is
 * text a person meant to send.
 */
export function unstorableTextProblem(s: string): string | undefined {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0)
      return 'contains a NUL character (U+0000), which Rondo cannot store as text; remove it (binary file content is sent base64-encoded)';
    if (c >= 0xd800 && c <= 0xdfff) {
      const next = s.charCodeAt(i + 1);
      if (c <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) i++;
      else
        return `contains a lone UTF-16 surrogate (U+${c.toString(16).toUpperCase()}), which is not text; send valid Unicode`;
    }
  }
  return undefined;
}

/**
 * Control characters a terminal acts on: C0 (newlines, tabs, ESC of ANSI sequences), DEL, C1
 * (U+009B is a one-character CSI) and the Unicode line and paragraph separators.
 */
function isTerminalControl(c: number): boolean {
  return c < 0x20 || (c >= 0x7f && c <= 0x9f) || c === 0x2028 || c === 0x2029;
}

/** Why `s` is not one line of plain text (names, display names, descriptions), or `undefined`. */
export function singleLineProblem(s: string): string | undefined {
  for (let i = 0; i < s.length; i++)
    if (isTerminalControl(s.charCodeAt(i)))
      return 'must be one line without control characters (newlines, tabs, ANSI escape sequences); remove them';
  return undefined;
}

const NAMED_ESCAPES: ReadonlyMap<number, string> = new Map([
  [0x0a, '\\n'],
  [0x0d, '\\r'],
  [0x09, '\\t'],
]);

/**
 * `s` with every terminal control character shown as an escape (`\n`, `\x1b`, `\u2028`), so
 * text from a record or from outside cannot move the cursor, recolour or rewrite a terminal.
 */
export function escapeControlCharacters(s: string): string {
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (!isTerminalControl(c)) out += s[i];
    else
      out +=
        NAMED_ESCAPES.get(c) ??
        (c <= 0xff ? `\\x${c.toString(16).padStart(2, '0')}` : `\\u${c.toString(16)}`);
  }
  return out;
}
