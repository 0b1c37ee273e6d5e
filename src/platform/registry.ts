import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { httpAnswers, type ManagedProcess } from './processes.js';

/** Where clusters pull the platform registry's images (`RONDO_REGISTRY_PULL_*`). */
export interface RegistryPullSettings {
  /** `host:port` the clusters' nodes reach (not loopback: no node shares the host's). */
  listen: string;
  /** An htpasswd file (bcrypt): pulls must authenticate, as the clusters' pull secrets do. */
  htpasswd?: string;
}

/**
 * The CNCF Distribution configuration of the platform registry (`pull` absent) or of its pull
 * door: a second process on the same storage, read-only (a push there is refused), at the address
 * clusters reach, asking for credentials when given an htpasswd file. The door is a process of its
 * own because Distribution listens on one address, and the push side stays on loopback, where
 * only this host (its builds, its Docker engine) reaches it.
 */
export function registryConfigText(root: string, listen: string, pull?: { htpasswd?: string }): string {
  const storage = pull
    ? `{ filesystem: { rootdirectory: ${root} }, maintenance: { readonly: { enabled: true } } }`
    : `{ filesystem: { rootdirectory: ${root} }, delete: { enabled: true } }`;
  return [
    'version: 0.1',
    'log: { level: warn }',
    `storage: ${storage}`,
    `http: { addr: "${listen}" }`,
    ...(pull?.htpasswd ? [`auth: { htpasswd: { realm: rondo-registry, path: ${pull.htpasswd} } }`] : []),
    '',
  ].join('\n');
}

function registryDir(dataDir: string): string {
  const dir = join(dataDir, 'registry');
  mkdirSync(dir, { recursive: true });
  return dir;
}

export function registryProcess(dataDir: string, listen: string): ManagedProcess {
  const dir = registryDir(dataDir);
  const config = join(dir, 'config.yml');
  writeFileSync(config, registryConfigText(join(dir, 'data'), listen));
  return {
    name: 'registry',
    command: 'docker-registry',
    args: ['serve', config],
    ready: () => httpAnswers(`http://${listen}/v2/`),
  };
}

/** The pull door (`registry-pull`): what a cluster's record names as its `registry.address`. */
export function registryPullProcess(dataDir: string, pull: RegistryPullSettings): ManagedProcess {
  const dir = registryDir(dataDir);
  const config = join(dir, 'pull.yml');
  writeFileSync(
    config,
    registryConfigText(join(dir, 'data'), pull.listen, pull.htpasswd ? { htpasswd: pull.htpasswd } : {}),
  );
  return {
    name: 'registry-pull',
    command: 'docker-registry',
    args: ['serve', config],
    // 401 without credentials is an answer.
    ready: () => httpAnswers(`http://${pull.listen}/v2/`),
  };
}
