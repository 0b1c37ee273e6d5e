import { describe, expect, it } from 'vitest';
import type { Replica as WorkloadInfo } from '../../src/dataplane/driver.js';
import { LABEL } from '../../src/dataplane/labels.js';
import { type Owners, shouldRemove } from '../../src/deploy/reconcile/removal.js';

const replica = (
  deployment: string,
  index: number,
  state: WorkloadInfo['state'] = 'running',
): WorkloadInfo => ({
  id: `${deployment}-${index}`,
  name: `${deployment}-${index}`,
  labels: { [LABEL.deployment]: deployment, [LABEL.replica]: String(index) },
  state,
  ready: true,
});
const execution: WorkloadInfo = { ...replica('d1', 0), labels: { [LABEL.execution]: 'e1' } };
const sandbox: WorkloadInfo = { ...replica('d1', 0), labels: { [LABEL.sandbox]: 'net' } };

const owners = (o: Partial<Owners> = {}): Owners => ({
  deployments: new Map([
    ['active', { replicas: 2, replaceDead: true }],
    ['next', { replicas: 2, replaceDead: false }],
  ]),
  draining: false,
  scopeExists: true,
  ...o,
});

/** The one rule of what is removed, case by case. */
describe('what the reconciler removes', () => {
  it.each([
    ['a serving replica of the active deployment', replica('active', 1), owners(), false],
    ['a replica beyond the active deployment’s count', replica('active', 2), owners(), true],
    [
      'a stopped replica of the active deployment (it is replaced)',
      replica('active', 0, 'exited'),
      owners(),
      true,
    ],
    ['a restarting replica of the active deployment', replica('active', 0, 'restarting'), owners(), false],
    [
      'a replica still being created where the data plane starts its own (a pending pod)',
      replica('active', 0, 'created'),
      owners({ restartsItself: true }),
      false,
    ],
    [
      'a replica that will not run again where the data plane restarts its own (an evicted pod)',
      replica('active', 0, 'exited'),
      owners({ restartsItself: true }),
      true,
    ],
    [
      'a replica still being created on Docker (its start failed)',
      replica('active', 0, 'created'),
      owners(),
      true,
    ],
    [
      'a stopped replica of the rollout (await-ready reports why)',
      replica('next', 0, 'exited'),
      owners(),
      false,
    ],
    ['a replica of a superseded deployment', replica('old', 0), owners(), true],
    [
      'a replica of a superseded deployment while it drains',
      replica('old', 0),
      owners({ draining: true }),
      false,
    ],
    [
      'a replica whose component is gone, even while draining',
      replica('old', 0),
      owners({ draining: true, scopeExists: false }),
      true,
    ],
    ['an execution container (the runner’s)', execution, owners({ scopeExists: false }), false],
    ['a task sandbox of an existing scope', sandbox, owners(), false],
    ['a task sandbox of a deleted scope', sandbox, owners({ scopeExists: false }), true],
  ])('%s', (_what, w, o, removed) => {
    expect(shouldRemove(w, o)).toBe(removed);
  });
});
