import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DockerImages } from '../../src/dataplane/docker/docker-images.js';
import { docker, removeImagesLabelled } from '../helpers/images.js';

describe('Docker images', () => {
  const dir = mkdtempSync(join(tmpdir(), 'rondo-import-'));
  afterAll(async () => {
    await removeImagesLabelled('rondo.test-image=1');
    rmSync(dir, { recursive: true, force: true });
  });

  it('imports a root filesystem with the labels cleanup finds it by', async () => {
    writeFileSync(join(dir, 'hello'), 'hello\n');
    const tar = spawn('tar', ['-C', dir, '-c', '.'], { stdio: ['ignore', 'pipe', 'ignore'] });
    await new DockerImages().importRootfs(tar.stdout, 'rondo-test-import:1', () => undefined, {
      'rondo.base-image': 'debian',
      'rondo.test-image': '1',
    });
    const image = await docker.getImage('rondo-test-import:1').inspect();
    expect(image.Config.Labels).toEqual({ 'rondo.base-image': 'debian', 'rondo.test-image': '1' });
  });
});
