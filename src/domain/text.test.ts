import { describe, expect, it } from 'vitest';
import { escapeControlCharacters, singleLineProblem, unstorableTextProblem } from './text.js';

describe('unstorableTextProblem', () => {
  it.each(['plain', 'café ☕', '😀 a pair of surrogates', ''])('accepts %j', (s) =>
    expect(unstorableTextProblem(s)).toBeUndefined(),
  );
  it.each([
    ['a\u0000b', /NUL/],
    ['\ud800', /lone UTF-16 surrogate \(U\+D800\)/],
    ['x\udc00', /U\+DC00/],
    ['\ud83d', /U\+D83D/],
    ['\ude00\ud83d', /U\+DE00/],
  ])('refuses %j', (s, message) => expect(unstorableTextProblem(s)).toMatch(message));
});

describe('singleLineProblem', () => {
  it.each(['Shop API', 'Bücher & Co. — v2', ''])('accepts %j', (s) =>
    expect(singleLineProblem(s)).toBeUndefined(),
  );
  it.each(['a\nb', 'a\rb', 'tab\there', '\u001b[31mred', 'del\u007f', 'csi\u009b31m', 'line\u2028sep'])(
    'refuses %j',
    (s) => expect(singleLineProblem(s)).toMatch(/one line without control characters/),
  );
});

describe('escapeControlCharacters', () => {
  it('shows control characters as escapes and leaves other text alone', () => {
    expect(escapeControlCharacters('\u001b[2J\u001b[31mowned\nnext\tcol\r\u009b\u2028')).toBe(
      '\\x1b[2J\\x1b[31mowned\\nnext\\tcol\\r\\x9b\\u2028',
    );
    expect(escapeControlCharacters('Bücher ☕ 😀')).toBe('Bücher ☕ 😀');
  });
});
