import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ignoreMatcher, scanForSecrets } from '../../src/builds/secret-scan.js';
import { plantedAwsKey } from '../helpers/secrets.js';

describe('secret scanning', () => {
  const root = mkdtempSync(join(tmpdir(), 'rondo-scan-'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('finds a planted AWS key by file, line and rule, and honours .secretlintignore', async () => {
    const key = plantedAwsKey();
    mkdirSync(join(root, 'src'));
    writeFileSync(
      join(root, 'src', 'config.js'),
      `module.exports = {};\nconst AWS_SECRET_ACCESS_KEY = "${key.secret}";\n`,
    );
    writeFileSync(join(root, 'README.md'), 'nothing to see\n');
    const findings = await scanForSecrets(root);
    expect(findings).toEqual([{ file: 'src/config.js', line: 2, rule: '@secretlint/secretlint-rule-aws' }]);
    expect(JSON.stringify(findings)).not.toContain(key.secret);
    writeFileSync(join(root, '.secretlintignore'), '# known test fixture\nsrc/config.js\n');
    expect(await scanForSecrets(root)).toEqual([]);
  });

  it('leaves nothing behind in the process: no performance marks pile up across scans', async () => {
    const dir = join(root, 'many');
    mkdirSync(dir);
    for (let i = 0; i < 20; i++) writeFileSync(join(dir, `f${i}.js`), `export const x${i} = ${i};\n`);
    performance.clearMarks();
    for (let i = 0; i < 3; i++) expect(await scanForSecrets(dir)).toEqual([]);
    // Let a PerformanceObserver's queued callbacks run before counting.
    await new Promise((r) => setTimeout(r, 50));
    expect(performance.getEntriesByType('mark')).toHaveLength(0);
    expect(performance.getEntriesByType('measure')).toHaveLength(0);
  });

  it('matches ignore patterns the way .gitignore does', () => {
    const m = ignoreMatcher('fixtures/\n*.pem\n/top.txt\ndocs/**/*.md\n');
    expect(m('fixtures/a.js')).toBe(true);
    expect(m('x/fixtures/a.js')).toBe(true);
    expect(m('keys/server.pem')).toBe(true);
    expect(m('top.txt')).toBe(true);
    expect(m('sub/top.txt')).toBe(false);
    expect(m('docs/a/b/c.md')).toBe(true);
    expect(m('src/app.js')).toBe(false);
  });
});
