import { describe, expect, it } from 'vitest';
import { checkImageReference, parseImageReference } from './image-reference.js';

describe('image references', () => {
  it.each([
    ['nginx', { name: 'nginx' }],
    ['nginx:1.25', { name: 'nginx', tag: '1.25' }],
    ['127.0.0.1:5000/team/app:v2', { name: '127.0.0.1:5000/team/app', tag: 'v2' }],
    [
      `localhost:5000/app@sha256:${'a'.repeat(64)}`,
      { name: 'localhost:5000/app', digest: `sha256:${'a'.repeat(64)}` },
    ],
  ])('parses %s', (ref, expected) => expect(parseImageReference(ref)).toEqual(expected));

  it.each(['Nginx', 'nginx:', 'nginx@sha256:abc', 'a b', ':tag', 'app:-x', '-app', 'a'.repeat(600)])(
    'rejects %j',
    (ref) => {
      expect(checkImageReference(ref)).toBeDefined();
    },
  );
});
