import type { Command } from 'commander';
import { ApiClient } from './client.js';
import { UsageError } from './errors.js';
import type { OutputFormat } from './output.js';
import { resolveConnection } from './settings.js';

export interface GlobalOptions {
  server?: string;
  org?: string;
  output: OutputFormat;
  debug?: boolean;
}

const FORMATS = ['table', 'json', 'yaml'];

/** The global flags of the command being run (`--server`, `--org`, `-o`, `--debug`). */
export function globals(cmd: Command): GlobalOptions {
  const opts = cmd.optsWithGlobals<GlobalOptions>();
  if (!FORMATS.includes(opts.output))
    throw new UsageError(`-o must be one of ${FORMATS.join(', ')} (got '${opts.output}')`);
  return opts;
}

export function clientFor(cmd: Command): ApiClient {
  const g = globals(cmd);
  return new ApiClient(
    resolveConnection({ ...(g.server ? { server: g.server } : {}), ...(g.org ? { org: g.org } : {}) }),
  );
}

/** Parses Choreo's `--build-configs k=v[,k=v]` (repeatable) into one map. */
export function parseKeyValues(values: string[], flag: string): Record<string, string> {
  // The keys are the user's: `__proto__=x` is a key like any other, not a prototype.
  const out: Record<string, string> = Object.create(null);
  for (const item of values.flatMap((v) => v.split(','))) {
    if (item.trim() === '') continue;
    const eq = item.indexOf('=');
    if (eq <= 0) throw new UsageError(`${flag} takes key=value pairs (got '${item}')`);
    out[item.slice(0, eq).trim()] = item.slice(eq + 1);
  }
  return out;
}

export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

export function requireProject(project: string | undefined): string {
  if (!project) throw new UsageError('--project is required (the project the component belongs to)');
  return project;
}
