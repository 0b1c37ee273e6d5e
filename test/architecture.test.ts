import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * docs/ARCHITECTURE.md's table says, per folder of `src/`, what it may import. This reads every
 * relative import of the folder's (non-test) files and holds the table to it, so the document
 * stays true and a new edge between folders is a decision someone writes down.
 */
const ROOT = join(import.meta.dirname, '..');

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts') && !e.name.endsWith('.test.ts'))
    .map((e) => join(e.parentPath, e.name));
}

/** What a file imports, as the table names it: a folder of src/ or a root file such as `config.ts`. */
function importedParts(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const parts: string[] = [];
  for (const m of text.matchAll(/from '(\.[^']+)'/g)) {
    const target = relative(join(ROOT, 'src'), normalize(join(dirname(file), m[1]!)));
    const [first, second] = target.split('/');
    parts.push(second === undefined ? first!.replace(/\.js$/, '.ts') : first!);
  }
  return parts;
}

function table(): Map<string, string[]> {
  const doc = readFileSync(join(ROOT, 'docs/ARCHITECTURE.md'), 'utf8');
  const rows = new Map<string, string[]>();
  for (const line of doc.split('\n')) {
    const m = /^\| `src\/([a-z-]+)` \|.*\| ([^|]+) \|$/.exec(line);
    if (!m) continue;
    const allowed = m[2]!
      .replace(/\([^)]*\)/g, '')
      .split(',')
      .map((s) => s.trim().replace(/`/g, ''))
      .filter(Boolean);
    rows.set(m[1]!, allowed);
  }
  return rows;
}

describe('docs/ARCHITECTURE.md dependency table', () => {
  const rows = table();
  const folders = readdirSync(join(ROOT, 'src'), { withFileTypes: true })
    .filter((e) => e.isDirectory())
    .map((e) => e.name);

  it('has a row for every folder of src/', () => {
    expect(folders.filter((f) => !rows.has(f))).toEqual([]);
  });

  it.each(folders)('src/%s imports only what its row allows', (folder) => {
    const allowed = new Set([folder, ...(rows.get(folder) ?? [])]);
    const refused = new Set<string>();
    for (const file of filesUnder(join(ROOT, 'src', folder)))
      for (const part of importedParts(file))
        if (!allowed.has(part)) refused.add(`${relative(ROOT, file)} → ${part}`);
    expect([...refused]).toEqual([]);
  });
});
