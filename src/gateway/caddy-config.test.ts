import { describe, expect, it } from 'vitest';
import { greaterThanPattern } from './caddy-config.js';

describe('greaterThanPattern', () => {
  it.each([10485760, 1000, 999, 5])('matches exactly the numbers above %i', (limit) => {
    const re = new RegExp(greaterThanPattern(limit));
    const samples = [
      0,
      1,
      limit - 1,
      limit,
      limit + 1,
      limit + 9,
      limit * 2,
      limit * 10,
      99999999999,
      Math.floor(limit / 10),
    ];
    for (const n of samples) expect(re.test(String(n)), `${n} vs ${limit}`).toBe(n > limit);
    for (let n = Math.max(0, limit - 300); n < limit + 300; n++) expect(re.test(String(n))).toBe(n > limit);
  });
});
