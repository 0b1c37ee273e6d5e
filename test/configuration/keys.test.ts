import { describe, expect, it } from 'vitest';
import { redact } from '../../src/configuration/materialize.js';
import { checkConfigKey, collisions, decodeValue, mountsCollide } from '../../src/domain/configuration.js';

describe('configuration keys and values', () => {
  it('accepts env names and normalized absolute paths', () => {
    for (const ok of ['A', '_X1', 'db_url', '/etc/app/config.yaml', '/x'])
      expect(checkConfigKey(ok)).toBeUndefined();
    for (const bad of [
      '',
      '9A',
      'A-B',
      'A B',
      'RONDO_TOKEN',
      'rel/path',
      '/a//b',
      '/a/./b',
      '/a/../b',
      '/a/',
      '/proc/x',
      '/dev/shm/y',
    ])
      expect(checkConfigKey(bad), bad).toBeDefined();
  });

  it('finds mounts that would hide each other', () => {
    expect(mountsCollide('/a/b', '/a/b')).toBe(true);
    expect(mountsCollide('/a', '/a/b')).toBe(true);
    expect(mountsCollide('/a/b', '/a/bc')).toBe(false);
    expect(collisions(['/a', 'ENV', '/a/b', '/c'])).toHaveLength(1);
  });

  it('decodes base64 file content and refuses binary text, oversize values and binary env vars', () => {
    expect(decodeValue('/f', 'AAE=', 'base64')).toEqual({ bytes: Buffer.from([0, 1]) });
    expect(decodeValue('/f', 'a\u0000', undefined)).toHaveProperty('problem');
    expect(decodeValue('E', 'AAE=', 'base64')).toHaveProperty('problem');
    expect(decodeValue('E', 'x'.repeat(1024 * 1024), undefined)).toHaveProperty('bytes');
    expect(decodeValue('E', 'x'.repeat(1024 * 1024 + 1), undefined)).toHaveProperty('problem');
  });

  it('redacts every line of a secret, but not fragments too short to mean anything', () => {
    expect(redact('token=abcd1234 and abc', ['abcd1234', 'abc'])).toBe('token=*** and abc');
    expect(redact('-----BEGIN-----\nline2xyz\n', ['-----BEGIN-----\nline2xyz'])).toBe('***\n***\n');
  });
});
