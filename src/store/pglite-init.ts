import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { PGlite } from '@electric-sql/pglite';

/**
 * PGlite's defaults size shared memory for a server: 128 MB of buffers and 100 connections, all
 * touched at start. Rondo's working set is a few MB and PGlite has one connection, so 8 MB and 8
 * slots keep the embedded control plane light (docs/decisions.md, "Server memory").
 */
export const PGLITE_START_PARAMS = [
  ...PGlite.defaultStartParams,
  '-c',
  'shared_buffers=8MB',
  '-c',
  'max_connections=8',
];

/**
 * Creates the database cluster in `dataDir` in a short-lived child process when there is none.
 * Initialisation grows PGlite's WebAssembly memory to about 600 MB, and WebAssembly memory never
 * shrinks: done in the server's own process, the first start would stay at 4× the resident memory
 * of every later one. The child costs about half a second, once per data directory.
 */
export async function initialiseInChild(dataDir: string): Promise<void> {
  if (existsSync(join(dataDir, 'PG_VERSION'))) return;
  const self = fileURLToPath(import.meta.url);
  // From the sources (tests), the child needs the same TypeScript loader as this process.
  const loader = self.endsWith('.ts') ? ['--import', 'tsx'] : [];
  const child = spawn(process.execPath, [...loader, self, dataDir], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => {
    stderr = (stderr + d).slice(-4000);
  });
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', resolve);
  });
  if (code !== 0) throw new Error(`initialising the embedded store in ${dataDir} failed: ${stderr.trim()}`);
}

// Run as the child: create the cluster, close it cleanly, exit.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const dataDir = process.argv[2];
  if (!dataDir) throw new Error('usage: pglite-init <dataDir>');
  const db = await PGlite.create(dataDir, { startParams: PGLITE_START_PARAMS });
  await db.close();
}
