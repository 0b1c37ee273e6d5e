import { closeSync, lstatSync, openSync, readdirSync, readFileSync, readSync } from 'node:fs';
import { join, relative } from 'node:path';
import { lintSource } from '@secretlint/core';
import { secretLintProfiler } from '@secretlint/profiler';
import { creator as recommended } from '@secretlint/secretlint-rule-preset-recommend';

// secretlint up to 12 profiles every run: a performance mark per file and rule, kept forever, and
// an observer that rescans all of them on each mark (secretlint#1633; 13 turns it off but needs
// Node 22). In a server that leaks and, after five builds, blocked the event loop for 0.9 s. Its
// marks go nowhere here, which is what 13's `setEnabled(false)` does.
Object.assign(secretLintProfiler as object, { perf: { mark: () => undefined, measure: () => undefined } });

/** One finding: where, and which rule, never the secret itself. */
export interface SecretFinding {
  file: string;
  line: number;
  rule: string;
}

const MAX_FILE_BYTES = 1024 * 1024;

/** `.secretlintignore` patterns (gitignore-like: `*`, `**`, `?`, trailing `/`, `#` comments). */
export function ignoreMatcher(text: string): (path: string) => boolean {
  const patterns = text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'))
    .map((p) => {
      const dir = p.endsWith('/');
      const body = p.replace(/^\//, '').replace(/\/$/, '');
      const source = body
        .split('**')
        .map((part) =>
          part
            .replace(/[.+^${}()|[\]\\]/g, '\\$&')
            .replace(/\*/g, '[^/]*')
            .replace(/\?/g, '[^/]'),
        )
        .join('.*');
      // A pattern without a slash matches a name at any depth, as in .gitignore.
      const anchored = p.startsWith('/') || body.includes('/') ? `^${source}` : `(^|/)${source}`;
      return new RegExp(`${anchored}${dir ? '/' : '(/|$)'}`);
    });
  return (path) => patterns.some((re) => re.test(path));
}

function isBinary(path: string): boolean {
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.alloc(8000);
    const n = readSync(fd, buf, 0, buf.length, 0);
    return buf.subarray(0, n).includes(0);
  } finally {
    closeSync(fd);
  }
}

/** Scans every text file under `root` with secretlint's recommended rules. */
export async function scanForSecrets(root: string): Promise<SecretFinding[]> {
  let ignoreText = '';
  try {
    ignoreText = readFileSync(join(root, '.secretlintignore'), 'utf8');
  } catch {
    // no ignore file
  }
  const ignored = ignoreMatcher(ignoreText);
  const files: string[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      if (name === '.git') continue;
      const full = join(dir, name);
      const rel = relative(root, full);
      if (ignored(rel)) continue;
      const st = lstatSync(full);
      if (st.isDirectory()) walk(full);
      else if (st.isFile() && st.size <= MAX_FILE_BYTES && !isBinary(full)) files.push(full);
    }
  };
  walk(root);
  const findings: SecretFinding[] = [];
  for (const file of files) {
    const result = await lintSource({
      source: { filePath: file, content: readFileSync(file, 'utf8'), contentType: 'text' },
      options: {
        config: { rules: [{ id: '@secretlint/secretlint-rule-preset-recommend', rule: recommended }] },
        maskSecrets: true,
      },
    });
    for (const m of result.messages)
      findings.push({ file: relative(root, file), line: m.loc.start.line, rule: m.ruleId });
  }
  return findings;
}
