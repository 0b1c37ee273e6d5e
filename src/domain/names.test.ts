import { describe, expect, it } from 'vitest';
import { checkDnsLabel } from './names.js';

describe('checkDnsLabel', () => {
  it.each(['a', 'shop', 'api-v2', '0day', 'a'.repeat(63)])('accepts %s', (name) => {
    expect(checkDnsLabel(name)).toBeUndefined();
  });

  it.each([
    ['', /empty/],
    ['Shop', /lowercase \(try 'shop'\)/],
    ['a'.repeat(64), /at most 63/],
    ['-shop', /start and end/],
    ['shop-', /start and end/],
    ['café', /ASCII/],
    ['a_b', /DNS label/],
    ['a.b', /DNS label/],
  ])('rejects %j', (name, message) => {
    expect(checkDnsLabel(name)).toMatch(message);
  });
});
