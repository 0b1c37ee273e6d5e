import { existsSync, lstatSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join, relative } from 'node:path';
import type { Readable } from 'node:stream';
import dockerignore from '@balena/dockerignore';
import { pack } from 'tar-stream';

/**
 * A tar stream of `dir` for the engine's build API, as the docker CLI sends it: `.git` left out,
 * and the context's `.dockerignore` applied (Docker's own matching rules), except that the
 * Dockerfile and `.dockerignore` are always sent.
 *
 * `labels` are appended to the Dockerfile as one LABEL instruction. The engine's own `labels`
 * parameter adds a step per label, each an intermediate container (~60 ms apiece here).
 *
 * `generated` is a Dockerfile that is not the application's (a preset's): it is sent as
 * `dockerfile`, and the archive's `.dockerignore` names it, so the engine drops it from the
 * context once it has read it (as the docker CLI does with a Dockerfile from outside the
 * context) and `COPY . .` cannot put it in the image.
 */
export function contextArchive(
  dir: string,
  dockerfile = 'Dockerfile',
  labels: Record<string, string> = {},
  generated?: string,
): Readable {
  const hasIgnoreFile = existsSync(join(dir, '.dockerignore'));
  const patterns = hasIgnoreFile ? readFileSync(join(dir, '.dockerignore'), 'utf8').split(/\r?\n/) : [];
  // A CommonJS module whose types declare a default export; `.default` is the factory itself.
  const rules = dockerignore.default().add(patterns);
  // With an exception (`!keep/me`) an ignored directory may still hold kept files: walk it.
  const exceptions = patterns.some((p) => p.trim().startsWith('!'));
  const always = new Set([dockerfile, '.dockerignore']);
  const archive = pack();
  const walk = (current: string) => {
    for (const name of readdirSync(current).sort()) {
      if (current === dir && name === '.git') continue;
      const full = join(current, name);
      const rel = relative(dir, full);
      if (generated !== undefined && (rel === dockerfile || rel === '.dockerignore')) continue;
      const ignored = !always.has(rel) && rules.ignores(rel);
      const st = lstatSync(full);
      if (st.isDirectory()) {
        if (!ignored) archive.entry({ name: rel, type: 'directory', mode: st.mode & 0o7777 });
        if (!ignored || exceptions || [...always].some((a) => a.startsWith(`${rel}/`))) walk(full);
      } else if (ignored) continue;
      else if (st.isSymbolicLink())
        archive.entry({ name: rel, type: 'symlink', linkname: readlinkSync(full) });
      else if (st.isFile())
        archive.entry(
          { name: rel, mode: st.mode & 0o7777 },
          rel === dockerfile ? withLabels(readFileSync(full, 'utf8'), labels) : readFileSync(full),
        );
    }
  };
  walk(dir);
  if (generated !== undefined) {
    archive.entry({ name: dockerfile, mode: 0o644 }, withLabels(generated, labels));
    // A .dockerignore the application did not have names itself, so it is dropped too.
    const drop = hasIgnoreFile ? [dockerfile] : [dockerfile, '.dockerignore'];
    archive.entry({ name: '.dockerignore', mode: 0o644 }, [...patterns, ...drop].join('\n'));
  }
  archive.finalize();
  return archive as unknown as Readable;
}

function withLabels(dockerfile: string, labels: Record<string, string>): string {
  const pairs = Object.entries(labels).map(([k, v]) => `${k}=${JSON.stringify(v)}`);
  if (pairs.length === 0) return dockerfile;
  // The newline first: a Dockerfile without a final newline must not absorb the instruction.
  return `${dockerfile}\nLABEL ${pairs.join(' ')}\n`;
}
