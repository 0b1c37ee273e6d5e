/**
 * The `rondo.*` labels on everything Rondo creates in a data plane. `rondo.instance` separates
 * Rondo installations (and test runs) sharing one engine, so cleanup and recovery are exact.
 */
export const LABEL = {
  instance: 'rondo.instance',
  managed: 'rondo.managed',
  org: 'rondo.org',
  project: 'rondo.project',
  environment: 'rondo.environment',
  component: 'rondo.component',
  deployment: 'rondo.deployment',
  replica: 'rondo.replica',
  /** On a task execution's container, which the execution runner owns (not the reconciler). */
  execution: 'rondo.execution',
  /** On the per-network sandbox whose network namespace executions join (Docker data plane). */
  sandbox: 'rondo.sandbox',
  /** On a replica that runs in a sandbox's network namespace (Docker): the sandbox, removed with it. */
  netns: 'rondo.netns',
  /** On such a replica: its address, which is the sandbox's (the engine lists none for it). */
  address: 'rondo.address',
} as const;

/**
 * Execution containers come and go with their runs, and sandboxes serve them; replica
 * bookkeeping (reconciler, rollouts) leaves both alone.
 */
export function isExecution(w: { labels: Record<string, string> }): boolean {
  return w.labels[LABEL.execution] !== undefined || w.labels[LABEL.sandbox] !== undefined;
}

export interface WorkloadOwner {
  instance: string;
  org: string;
  project: string;
  environment: string;
}

/** Labels of a (project, environment) network. */
export function networkLabels(o: WorkloadOwner): Record<string, string> {
  return {
    [LABEL.instance]: o.instance,
    [LABEL.managed]: 'true',
    [LABEL.org]: o.org,
    [LABEL.project]: o.project,
    [LABEL.environment]: o.environment,
  };
}

/** The network name of a (project, environment); dots cannot occur in DNS labels, so it is unambiguous. */
export function networkName(instance: string, o: Omit<WorkloadOwner, 'instance'>): string {
  return `rondo.${instance}.${o.org}.${o.project}.${o.environment}`;
}
