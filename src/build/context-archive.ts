import { lstatSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join, relative } from 'node:path';
import type { Readable } from 'node:stream';
import { pack } from 'tar-stream';

/** A tar stream of `dir` for the engine's build API; `.git` is left out. */
export function contextArchive(dir: string): Readable {
  const archive = pack();
  const walk = (current: string) => {
    for (const name of readdirSync(current).sort()) {
      if (current === dir && name === '.git') continue;
      const full = join(current, name);
      const rel = relative(dir, full);
      const st = lstatSync(full);
      if (st.isSymbolicLink()) archive.entry({ name: rel, type: 'symlink', linkname: readlinkSync(full) });
      else if (st.isDirectory()) {
        archive.entry({ name: rel, type: 'directory', mode: st.mode & 0o7777 });
        walk(full);
      } else if (st.isFile()) archive.entry({ name: rel, mode: st.mode & 0o7777 }, readFileSync(full));
    }
  };
  walk(dir);
  archive.finalize();
  return archive as unknown as Readable;
}
