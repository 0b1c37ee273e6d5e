import { describe, expect, it } from 'vitest';
import { checkEndpoints, type EndpointSpec } from './endpoint.js';

const endpoint = (basePath: string): EndpointSpec => ({
  name: 'rest',
  port: 8080,
  type: 'REST',
  basePath,
  visibility: ['Public'],
});

describe('endpoint base paths', () => {
  it.each(['/', '/books', '/v1/books-api'])('accepts %s', (basePath) =>
    expect(checkEndpoints([endpoint(basePath)], 'service')).toEqual([]),
  );

  it.each(['books', '/a/../b', '/a b', '/a?x', '/a#x', '/\u001b[31mred', '/del\u007f', '/a\nb'])(
    'refuses %j',
    (basePath) =>
      expect(checkEndpoints([endpoint(basePath)], 'service')).toEqual([
        { field: 'endpoints.0.basePath', message: expect.stringMatching(/must be an absolute path/) },
      ]),
  );
});
