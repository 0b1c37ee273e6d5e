import { describe, expect, it } from 'vitest';
import { canonicalComponentType, checkBuildConfigs, checkComponentSource } from './component.js';

describe('component types', () => {
  it('accepts Choreo aliases', () => {
    expect(canonicalComponentType('webApp')).toBe('web-app');
    expect(canonicalComponentType('scheduleTask')).toBe('scheduled-task');
    expect(canonicalComponentType('manualTask')).toBe('manual-task');
    expect(canonicalComponentType('service')).toBe('service');
    expect(canonicalComponentType('lambda')).toBeUndefined();
  });

  it.each(['__proto__', 'constructor', 'toString', 'hasOwnProperty'])(
    'knows no type %s (Object.prototype is not a table of aliases)',
    (name) => expect(canonicalComponentType(name)).toBeUndefined(),
  );
});

describe('checkBuildConfigs', () => {
  it('accepts the configs of each preset', () => {
    expect(
      checkBuildConfigs('nodejs', 'service', { buildPackLangVersion: '20', runCommand: 'node server.js' }),
    ).toEqual([]);
    expect(
      checkBuildConfigs('dockerfile', 'service', { dockerFilePath: 'Dockerfile', dockerContext: '.' }),
    ).toEqual([]);
    expect(
      checkBuildConfigs('react', 'web-app', {
        buildCommand: 'npm run build',
        outputDirectory: 'build',
        nodeVersion: '18',
      }),
    ).toEqual([]);
  });

  it.each(['constructor', 'toString', '__proto__', 'hasOwnProperty'])(
    'names a config called %s as not the preset’s',
    (key) => {
      // JSON.parse makes `__proto__` an own key, as a request body does.
      const configs = JSON.parse(`{"buildPackLangVersion": "20", "${key}": "x"}`);
      expect(checkBuildConfigs('nodejs', 'service', configs)).toEqual([
        { field: `buildConfigs.${key}`, message: expect.stringMatching(/not a build config of preset/) },
      ]);
    },
  );

  it('names a config that does not belong to the preset and lists the accepted ones', () => {
    const errors = checkBuildConfigs('python', 'service', { dockerFilePath: 'Dockerfile' });
    expect(errors).toEqual([
      {
        field: 'buildConfigs.dockerFilePath',
        message: expect.stringMatching(/not a build config of preset 'python'.*buildPackLangVersion/),
      },
    ]);
    expect(checkBuildConfigs('static', 'web-app', { port: '80' })[0]?.message).toMatch(
      /takes no build configs/,
    );
  });

  it('requires dockerFilePath, and port for web apps', () => {
    expect(checkBuildConfigs('dockerfile', 'service', {}).map((e) => e.field)).toEqual([
      'buildConfigs.dockerFilePath',
    ]);
    expect(checkBuildConfigs('go', 'web-app', { buildPackLangVersion: '1.19' }).map((e) => e.field)).toEqual([
      'buildConfigs.port',
    ]);
  });

  it('validates values', () => {
    expect(checkBuildConfigs('nodejs', 'service', { buildPackLangVersion: '20; rm -rf /' })[0]?.field).toBe(
      'buildConfigs.buildPackLangVersion',
    );
    expect(checkBuildConfigs('nodejs', 'web-app', { port: '70000' })[0]?.message).toMatch(/1-65535/);
    expect(
      checkBuildConfigs('dockerfile', 'service', { dockerFilePath: '../Dockerfile' })[0]?.message,
    ).toMatch(/\.\./);
    expect(checkBuildConfigs('nodejs', 'service', { runCommand: 'a\nb' })[0]?.message).toMatch(/newlines/);
  });

  it('keeps SPA presets for web apps', () => {
    expect(checkBuildConfigs('react', 'service', {}).map((e) => e.field)).toEqual(['buildPreset']);
  });
});

describe('checkComponentSource', () => {
  it('refuses build settings on an image component', () => {
    const errors = checkComponentSource({
      type: 'service',
      source: { kind: 'image', image: 'nginx:1' },
      buildPreset: 'nodejs',
      buildConfigs: { a: 'b' },
    });
    expect(errors.map((e) => e.field)).toEqual(['buildPreset', 'buildConfigs']);
  });

  it('requires a preset for a Git component', () => {
    const errors = checkComponentSource({
      type: 'service',
      source: { kind: 'git', repoUrl: 'https://h/r', branch: 'main', path: '.' },
      buildPreset: null,
      buildConfigs: {},
    });
    expect(errors.map((e) => e.field)).toEqual(['buildPreset']);
  });
});
