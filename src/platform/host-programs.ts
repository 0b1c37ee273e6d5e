import { existsSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Every program on the host that Rondo's runtime starts, with the Debian package that provides it.
 * `scripts/install-deps.sh runtime` installs these packages and `rondo doctor` checks each
 * program; a unit test reads `src/` for what it spawns and fails when one is missing here.
 */
export interface HostProgram {
  command: string;
  /** Debian's package. */
  debianPackage: string;
  /** What Rondo needs it for, shown by `rondo doctor` when it is missing. */
  usedFor: string;
  /** Where it must be, when only that copy will do (Debian's docker CLI has BuildKit; others may not). */
  paths?: string[];
}

export const HOST_PROGRAMS: readonly HostProgram[] = [
  { command: 'git', debianPackage: 'git', usedFor: 'fetching sources for builds' },
  { command: 'ssh', debianPackage: 'openssh-client', usedFor: 'git over ssh:// (deploy keys)' },
  { command: 'dockerd', debianPackage: 'docker.io', usedFor: 'the Docker engine that `rondo up` starts' },
  {
    command: 'docker',
    debianPackage: 'docker.io',
    usedFor: 'BuildKit builds (Debian’s CLI, RONDO_DOCKER_CLI)',
    paths: ['/usr/bin/docker'],
  },
  {
    command: 'caddy',
    debianPackage: 'caddy',
    usedFor: 'the static stack’s file server (copied into its base image)',
  },
  { command: 'docker-registry', debianPackage: 'docker-registry', usedFor: 'the platform registry' },
  {
    command: 'haproxy',
    debianPackage: 'haproxy',
    usedFor: 'the gateway behind the traffic port (G7; src/gateway/host-gateway.ts)',
  },
  {
    command: 'prometheus',
    debianPackage: 'prometheus',
    usedFor: 'metrics: the time-series store `rondo up` starts',
  },
  {
    command: 'prometheus-alertmanager',
    debianPackage: 'prometheus-alertmanager',
    usedFor: 'alerts: latency, traffic and resource alerts from Prometheus to the control plane',
  },
  {
    command: 'debootstrap',
    debianPackage: 'debootstrap',
    usedFor: 'base images (`rondo images bootstrap`)',
  },
  {
    command: 'busybox',
    debianPackage: 'busybox-static',
    usedFor: 'base images and task sandboxes (a static busybox)',
  },
  {
    command: 'npm',
    debianPackage: 'npm',
    usedFor: 'fetching Node.js LTS for the node stack (`rondo images bootstrap`)',
  },
  { command: 'ldd', debianPackage: 'libc-bin', usedFor: 'copying Caddy’s libraries into the static image' },
  { command: 'tar', debianPackage: 'tar', usedFor: 'importing the Debian root as an image' },
  { command: 'sh', debianPackage: 'dash', usedFor: 'reading limits in `rondo doctor`' },
];

/** Where `program` is on this host, or undefined. */
export function locateProgram(program: HostProgram, path = process.env.PATH ?? ''): string | undefined {
  // sbin programs are off a non-root PATH, and Rondo finds them all the same.
  const dirs = [...path.split(':').filter(Boolean), '/usr/sbin', '/sbin'];
  const candidates = program.paths ?? dirs.map((d) => join(d, program.command));
  return candidates.find((c) => existsSync(c));
}

/** The host programs that are not installed. */
export function missingPrograms(path?: string): HostProgram[] {
  return HOST_PROGRAMS.filter((p) => locateProgram(p, path) === undefined);
}
