import { describe, expect, it } from 'vitest';
import { withBuildInputs } from '../../src/builds/build-inputs.js';

describe('build inputs in a generated Dockerfile', () => {
  const dockerfile = 'FROM node:20 AS build\nRUN npm ci\nCOPY . .\nFROM nginx\nRUN touch /x\nUSER 10014';

  it('declares each argument after every FROM and mounts each secret into every RUN', () => {
    expect(withBuildInputs(dockerfile, { args: { A: '1' }, secrets: { S: 'x', T: 'y' } })).toBe(
      [
        'FROM node:20 AS build',
        'ARG A',
        'RUN --mount=type=secret,id=S --mount=type=secret,id=T npm ci',
        'COPY . .',
        'FROM nginx',
        'ARG A',
        'RUN --mount=type=secret,id=S --mount=type=secret,id=T touch /x',
        'USER 10014',
      ].join('\n'),
    );
  });

  it('leaves a Dockerfile alone when the build scope is empty, and never writes values', () => {
    expect(withBuildInputs(dockerfile, { args: {}, secrets: {} })).toBe(dockerfile);
    expect(withBuildInputs(dockerfile, { args: { A: 'value-1' }, secrets: { S: 'value-2' } })).not.toMatch(
      /value-/,
    );
  });
});
