import { describe, expect, it } from 'vitest';
import { checkFinalUser } from './dockerfile-policy.js';

describe('checkFinalUser', () => {
  it('accepts a numeric UID in 10000–20000 in the final stage', () => {
    expect(checkFinalUser('FROM scratch\nCOPY a /a\nUSER 10014\n')).toBeUndefined();
    expect(checkFinalUser('FROM a AS build\nUSER root\nFROM scratch\nUSER 10001:10001\n')).toBeUndefined();
  });

  it.each([
    ['FROM scratch\nCOPY a /a\n', /sets no USER, so it would run as root; .*USER 10014/],
    ['FROM scratch\nUSER app\n', /runs as 'app', which is not a numeric UID/],
    ['FROM scratch\nUSER 0\n', /UID 0; the UID must be between 10000 and 20000/],
    ['FROM scratch\nUSER 20001\n', /UID 20001/],
    ['FROM a\nUSER 10014\nFROM scratch\nCOPY --from=0 /a /a\n', /final stage sets no USER/],
    ['# only a comment\n', /no FROM/],
  ])('refuses %j', (dockerfile, message) => {
    expect(checkFinalUser(dockerfile)).toMatch(message);
  });
});
