import { afterEach, describe, expect, it, vi } from 'vitest';
import { printList, printObject } from '../../src/cli/output.js';

/** G2 #12: what the CLI shows a person cannot carry a terminal's control characters. */
describe('table output', () => {
  let written = '';
  const capture = () => {
    written = '';
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
      written += String(chunk);
      return true;
    });
  };
  afterEach(() => vi.restoreAllMocks());

  // An older record (or text from outside) with a screen clear, a colour, a forged row and a C1 CSI.
  const hostile = 'ok\u001b[2J\u001b[31m\nNAME   ROLE\u009b1m\u2028';
  const shown = 'ok\\x1b[2J\\x1b[31m\\nNAME   ROLE\\x9b1m\\u2028';
  // biome-ignore lint/suspicious/noControlCharactersInRegex: these are the characters looked for
  const controls = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u2028\u2029]/;

  it('escapes control characters in every cell, one line per row', () => {
    capture();
    printList('table', [{ name: hostile }, { name: 'plain' }], [{ header: 'name', value: (r) => r.name }]);
    expect(written.split('\n')).toEqual(['NAME', shown, 'plain', '']);
    expect(written).not.toMatch(controls);
  });

  it('escapes them in key: value output and in the YAML a table view prints', () => {
    capture();
    printObject('table', {}, [['description', hostile]]);
    expect(written).toBe(`description: ${shown}\n`);
    capture();
    printObject('table', { displayName: hostile, nested: [{ note: hostile }] });
    expect(written).not.toMatch(controls);
    expect(written).toContain('\\x1b[2J');
  });

  it('leaves -o json exactly what the API returned', () => {
    capture();
    printObject('json', { displayName: 'a\u009bb' });
    expect(JSON.parse(written)).toEqual({ displayName: 'a\u009bb' });
  });
});
