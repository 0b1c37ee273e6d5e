import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { defaultBuildWorkDir } from '../src/platform-config.js';

describe('where builds check out their source', () => {
  const dir = mkdtempSync(join(tmpdir(), 'rondo-platform-config-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const mounts = (text: string) => {
    const file = join(dir, `mounts-${Math.random().toString(36).slice(2)}`);
    writeFileSync(file, text);
    return file;
  };

  it('uses the tmpfs at /dev/shm when the host has one', () => {
    const file = mounts('/dev/vda / ext4 rw 0 0\ntmpfs /dev/shm tmpfs rw,nosuid,nodev 0 0\n');
    expect(defaultBuildWorkDir('/var/lib/rondo', file)).toBe('/dev/shm/rondo-builds');
  });

  it('falls back to the data directory without one', () => {
    const onDisk = mounts('/dev/vda / ext4 rw 0 0\n/dev/vdb /dev/shm ext4 rw 0 0\n');
    expect(defaultBuildWorkDir('/var/lib/rondo', onDisk)).toBe('/var/lib/rondo/builds');
    expect(defaultBuildWorkDir('/var/lib/rondo', join(dir, 'no-such-file'))).toBe('/var/lib/rondo/builds');
    expect(defaultBuildWorkDir('memory://', onDisk)).toBe('/tmp/builds');
  });
});
