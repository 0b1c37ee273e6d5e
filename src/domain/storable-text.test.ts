import { describe, expect, it } from 'vitest';
import { REPLACEMENT, storableError, storableJson, storableText } from './storable-text.js';

describe('storable text', () => {
  it('replaces NUL and other control characters, keeps tabs and newlines', () => {
    expect(storableText('remote: broken\0pack\n\tat\x07 line\x7f')).toBe(
      `remote: broken${REPLACEMENT}pack\n\tat${REPLACEMENT} line${REPLACEMENT}`,
    );
  });

  it('turns CR line ends into newlines and drops terminal escape sequences', () => {
    expect(storableText('\x1b[31merror\x1b[0m\r\nnext\rover \x1b]0;title\x07done\x9b2J')).toBe(
      `error\nnext\nover done${REPLACEMENT}2J`,
    );
  });

  it('reads bytes as UTF-8, invalid sequences becoming U+FFFD', () => {
    const bytes = Buffer.concat([Buffer.from('ok '), Buffer.from([0xff, 0xfe, 0x00]), Buffer.from(' é')]);
    expect(storableText(bytes)).toBe(`ok ${REPLACEMENT}${REPLACEMENT}${REPLACEMENT} é`);
  });

  it('replaces lone surrogates and keeps pairs', () => {
    expect(storableText('a\ud800b\udc00c😀')).toBe(`a${REPLACEMENT}b${REPLACEMENT}c😀`);
  });

  it('caps at the start or the end, saying how much was dropped, without splitting a pair', () => {
    expect(storableText('abcdefghij', { maxChars: 4 })).toBe('abcd [6 characters dropped]');
    expect(storableText('abcdefghij', { maxChars: 4, keep: 'end' })).toBe('[6 characters dropped] ghij');
    expect(storableText('abc😀', { maxChars: 4 })).toBe(`abc${REPLACEMENT} [1 characters dropped]`);
    expect(storableText('short', { maxChars: 5 })).toBe('short');
  });

  it('makes JSON whose strings are storable, and errors storable messages', () => {
    const json = storableJson({ reason: 'a\0b', list: ['\ud800'], n: 1 });
    expect(json).not.toMatch(/\\u0000|\\ud800/);
    expect(JSON.parse(json)).toEqual({ reason: `a${REPLACEMENT}b`, list: [REPLACEMENT], n: 1 });
    expect(storableError(new Error('x\0y'))).toBe(`x${REPLACEMENT}y`);
    expect(storableError('plain')).toBe('plain');
  });
});
