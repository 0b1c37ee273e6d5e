import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { UsageError } from '../errors.js';
import { dataPlaneBody } from './crud.js';

describe('rondo create dataplane flags', () => {
  const dir = mkdtempSync(join(tmpdir(), 'rondo-kubeconfig-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('send a kubeconfig file’s text and the context for a Kubernetes cluster', () => {
    const file = join(dir, 'config');
    writeFileSync(file, 'apiVersion: v1\nkind: Config\n');
    expect(dataPlaneBody('lab', { type: 'kubernetes', kubeconfig: file, context: 'admin@lab' })).toEqual({
      name: 'lab',
      type: 'kubernetes',
      config: { kubeconfig: 'apiVersion: v1\nkind: Config\n', context: 'admin@lab' },
    });
    expect(dataPlaneBody('lab', { type: 'kubernetes', kubeconfig: file }).config).toEqual({
      kubeconfig: 'apiVersion: v1\nkind: Config\n',
    });
  });

  it('send the socket for a Docker engine, or nothing for the local one', () => {
    expect(dataPlaneBody('podman', { type: 'docker', socket: '/run/podman/podman.sock' })).toEqual({
      name: 'podman',
      type: 'docker',
      config: { socketPath: '/run/podman/podman.sock' },
    });
    expect(dataPlaneBody('local2', { type: 'docker' }).config).toEqual({});
  });

  it('are usage errors when a file is missing or a flag belongs to the other type', () => {
    const missing = join(dir, 'nope');
    expect(() => dataPlaneBody('lab', { type: 'kubernetes', kubeconfig: missing })).toThrow(
      new UsageError(`--kubeconfig ${missing}: no such file`),
    );
    expect(() => dataPlaneBody('lab', { type: 'kubernetes', kubeconfig: dir })).toThrow(/is a directory/);
    expect(() => dataPlaneBody('lab', { type: 'kubernetes' })).toThrow(/needs --kubeconfig/);
    expect(() => dataPlaneBody('lab', { type: 'kubernetes', kubeconfig: 'x', socket: '/s' })).toThrow(
      /--socket is for --type docker/,
    );
    expect(() => dataPlaneBody('d', { type: 'docker', kubeconfig: 'x' })).toThrow(UsageError);
  });

  it('send where the cluster pulls and the pull credentials, the password read from its file', () => {
    const file = join(dir, 'config');
    writeFileSync(file, 'kind: Config\n');
    const pw = join(dir, 'pw');
    writeFileSync(pw, 's3cret\n');
    expect(
      dataPlaneBody('lab', { type: 'kubernetes', kubeconfig: file, registry: '10.0.0.5:5000' }).config,
    ).toEqual({
      kubeconfig: 'kind: Config\n',
      registry: { address: '10.0.0.5:5000' },
    });
    expect(
      dataPlaneBody('lab', {
        type: 'kubernetes',
        kubeconfig: file,
        registry: '10.0.0.5:5000',
        registryUser: 'puller',
        registryPasswordFile: pw,
      }).config,
    ).toEqual({
      kubeconfig: 'kind: Config\n',
      registry: { address: '10.0.0.5:5000', username: 'puller', password: 's3cret' },
    });
    const base = { type: 'kubernetes', kubeconfig: file, registry: 'r:5000' } as const;
    expect(() => dataPlaneBody('lab', { ...base, registryUser: 'puller' })).toThrow(/together/);
    expect(() =>
      dataPlaneBody('lab', { ...base, registryUser: 'p', registryPasswordFile: join(dir, 'no') }),
    ).toThrow(/--registry-password-file .*: no such file/);
    expect(() =>
      dataPlaneBody('lab', {
        type: 'kubernetes',
        kubeconfig: file,
        registryUser: 'p',
        registryPasswordFile: pw,
      }),
    ).toThrow(/needs --registry/);
    expect(() => dataPlaneBody('d', { type: 'docker', registry: 'r:5000' })).toThrow(UsageError);
  });
});
