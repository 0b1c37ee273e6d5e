import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { errorRegistry } from './errors.js';

describe('error registry', () => {
  const doc = readFileSync(join(import.meta.dirname, '..', '..', 'docs', 'errors.md'), 'utf8');
  const documented = [...doc.matchAll(/^\| `(RONDO_ERR_[A-Z_]+)` \| (\d{3}) \|/gm)].map((m) => [
    m[1],
    Number(m[2]),
  ]);

  it('documents every code with its status in docs/errors.md, and nothing else', () => {
    const registered = Object.entries(errorRegistry).map(([code, e]) => [code, e.status]);
    expect(documented.sort()).toEqual(registered.sort());
  });

  it('gives every code a fix that tells the person what to do', () => {
    for (const [code, e] of Object.entries(errorRegistry)) expect(e.fix.length, code).toBeGreaterThan(15);
  });
});
