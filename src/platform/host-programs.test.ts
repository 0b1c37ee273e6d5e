import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { programChecks } from './doctor-host.js';
import { HOST_PROGRAMS, locateProgram } from './host-programs.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sources(path);
    return name.endsWith('.ts') && !name.endsWith('.test.ts') ? [path] : [];
  });
}

/**
 * Spawns whose program is not a literal, and what each one starts. A new one fails the test until
 * it is named here (and its program is in HOST_PROGRAMS).
 */
const INDIRECT: Record<string, string | undefined> = {
  'src/platform/processes.ts spawn(p.command': undefined, // the `command:` literals below
  'src/platform/supervisor.ts spawn(p.command': undefined, // the same processes, restarted
  'src/builds/buildkit-cli.ts spawn(this.#cli': 'docker',
  'src/builds/bootstrap-debian.ts spawn(cmd': undefined, // its run('<program>', …) calls
  'src/store/pglite-init.ts spawn(process.execPath': undefined, // Node itself
  'src/platform/local-platform.ts execFileSync(script': undefined, // scripts/install-deps.sh
};

/** The executables `src/` starts, read from the source. */
function spawnedPrograms(): Set<string> {
  const found = new Set<string>();
  // The list itself is left out: its `command:` entries would make the scan find them all.
  for (const file of sources(join(root, 'src')).filter((f) => !f.endsWith('host-programs.ts'))) {
    const text = readFileSync(file, 'utf8');
    const rel = relative(root, file);
    for (const m of text.matchAll(/(?<![#.\w])(spawn|spawnSync|execFile|execFileSync)\(\s*([^,)]+)/g)) {
      const [, fn, arg = ''] = m;
      const literal = /^'([^']+)'$/.exec(arg.trim());
      if (literal?.[1]) {
        found.add(literal[1]);
        continue;
      }
      const key = `${rel} ${fn}(${arg.trim()}`;
      expect(Object.keys(INDIRECT), `${key}: name what it starts in INDIRECT`).toContain(key);
      const program = INDIRECT[key];
      if (program) found.add(program);
    }
    for (const m of text.matchAll(/\bcommand:\s*'([^']+)'/g)) if (m[1]) found.add(m[1]);
    for (const m of text.matchAll(/\brun\(\s*'([^']+)'/g)) if (m[1]) found.add(m[1]);
    // git runs ssh for ssh:// repositories.
    if (text.includes('GIT_SSH_COMMAND')) found.add('ssh');
  }
  return found;
}

describe('host programs', () => {
  it('lists every program src/ starts', () => {
    const spawned = spawnedPrograms();
    // The reading finds the ones we know of, so an empty or broken scan cannot pass.
    for (const known of ['git', 'ssh', 'dockerd', 'haproxy', 'docker-registry', 'debootstrap', 'ldd', 'tar'])
      expect(spawned).toContain(known);
    const listed = HOST_PROGRAMS.map((p) => p.command);
    for (const program of spawned) expect(listed, `${program} is spawned by src/`).toContain(program);
    // busybox is copied into images, not spawned: listed all the same.
    expect(listed).toContain('busybox');
  });

  it('install-deps.sh runtime installs the package of every program on a fresh machine', () => {
    const out = execFileSync(join(root, 'scripts/install-deps.sh'), ['runtime'], {
      env: { ...process.env, INSTALL_DEPS_DRY_RUN: '1', INSTALL_DEPS_ASSUME_MISSING: '1' },
      encoding: 'utf8',
    });
    const packages = out.replace('would install:', '').trim().split(/\s+/);
    for (const p of HOST_PROGRAMS) expect(packages, `${p.command}`).toContain(p.debianPackage);
  });

  it('rondo doctor checks every program and names the package when one is missing', () => {
    const names = programChecks('/usr/bin/docker').map((c) => c.name);
    for (const p of HOST_PROGRAMS) expect(names).toContain(`program ${p.command}`);

    const empty = mkdtempSync(join(tmpdir(), 'rondo-path-'));
    const saved = process.env.PATH;
    try {
      process.env.PATH = empty;
      const git = programChecks(join(empty, 'docker')).find((c) => c.name === 'program git');
      expect(git?.ok).toBe(false);
      expect(git?.fix).toContain('apt-get install git');
      const docker = programChecks(join(empty, 'docker')).find((c) => c.name === 'program docker');
      expect(docker?.ok).toBe(false);
    } finally {
      process.env.PATH = saved;
      rmSync(empty, { recursive: true, force: true });
    }
    expect(locateProgram({ command: 'git', debianPackage: 'git', usedFor: '' })).toBeDefined();
  });
});
