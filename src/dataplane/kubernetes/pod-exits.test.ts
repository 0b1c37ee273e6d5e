import type { V1ContainerStatus, V1Pod } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { LABEL } from '../labels.js';
import { ExitLedger, terminations } from './pod-exits.js';

const labels = { [LABEL.deployment]: 'd1' };
const pod = (name: string, uid: string, created: string, status: Partial<V1ContainerStatus>) =>
  ({
    metadata: { name, uid, namespace: 'ns', creationTimestamp: new Date(created), labels },
    spec: { containers: [{ name: 'app' }] },
    status: {
      phase: 'Running',
      containerStatuses: [{ name: 'app', image: 'x', imageID: '', ready: false, restartCount: 0, ...status }],
    },
  }) as V1Pod;

const terminated = (exitCode: number, reason = 'Error') => ({ terminated: { exitCode, reason } });

describe('a pod watch’s exits', () => {
  it('keys each stop by pod uid, container and run, from the current state and the last', () => {
    const p = pod('a', 'u1', '2026-01-01T00:00:00Z', {
      restartCount: 2,
      state: terminated(3),
      lastState: terminated(1),
    });
    expect(terminations(p)).toEqual([
      { key: 'u1/app/1', exitCode: 1, oomKilled: false, reason: 'Error' },
      { key: 'u1/app/2', exitCode: 3, oomKilled: false, reason: 'Error' },
    ]);
  });

  it('reports a stop once, however often its status is read again', () => {
    const ledger = new ExitLedger();
    expect(ledger.update(pod('a', 'u1', '2026-01-01T00:00:00Z', { state: { running: {} } }))).toEqual([]);
    // The container stops (run 0) …
    const first = ledger.update(pod('a', 'u1', '2026-01-01T00:00:00Z', { state: terminated(3) }));
    expect(first).toMatchObject([{ id: 'ns/a', name: 'a', exitCode: 3, oomKilled: false }]);
    // … the kubelet restarts it: run 0's stop is now `lastState`, already reported.
    const restarted = pod('a', 'u1', '2026-01-01T00:00:00Z', {
      restartCount: 1,
      state: { waiting: { reason: 'CrashLoopBackOff' } },
      lastState: terminated(3),
    });
    expect(ledger.update(restarted)).toEqual([]);
    expect(ledger.update(restarted)).toEqual([]);
    // A stop missed meanwhile (seen only as lastState of a later run) is reported once.
    const later = pod('a', 'u1', '2026-01-01T00:00:00Z', {
      restartCount: 3,
      state: { running: {} },
      lastState: terminated(4),
    });
    expect(ledger.update(later).map((e) => e.exitCode)).toEqual([4]);
    expect(ledger.update(later)).toEqual([]);
  });

  it('reads an OOM kill as exit 137 with the OOM flag', () => {
    const ledger = new ExitLedger();
    const [exit] = ledger.update(
      pod('a', 'u1', '2026-01-01T00:00:00Z', { state: terminated(137, 'OOMKilled') }),
    );
    expect(exit).toMatchObject({ exitCode: 137, oomKilled: true, reason: 'OOMKilled' });
    // A runtime that gives no code for the kill still means SIGKILL.
    const [zero] = ledger.update(
      pod('b', 'u2', '2026-01-01T00:00:00Z', { state: terminated(0, 'OOMKilled') }),
    );
    expect(zero).toMatchObject({ exitCode: 137, oomKilled: true });
  });

  it('labels an exit with the replica index `list` gives its pod', () => {
    const ledger = new ExitLedger();
    ledger.update(pod('first', 'u1', '2026-01-01T00:00:00Z', { state: { running: {} } }));
    const [exit] = ledger.update(pod('second', 'u2', '2026-01-01T00:00:05Z', { state: terminated(2) }));
    expect(exit?.labels).toEqual({ [LABEL.deployment]: 'd1', [LABEL.replica]: '1' });
  });

  it('keeps what a relist shows history when quiet, and forgets pods it no longer shows', () => {
    const ledger = new ExitLedger();
    const crashed = pod('a', 'u1', '2026-01-01T00:00:00Z', { state: terminated(3) });
    expect(ledger.update(crashed, true)).toEqual([]);
    expect(ledger.update(crashed)).toEqual([]);
    ledger.update(pod('b', 'u2', '2026-01-01T00:00:00Z', { state: { running: {} } }));
    ledger.keepOnly(new Set(['u2']));
    expect(ledger.size).toBe(1);
    // A pod deleted right after its container stopped: the stop is in the deletion's status.
    expect(ledger.remove(pod('b', 'u2', '2026-01-01T00:00:00Z', { state: terminated(143) }))).toMatchObject([
      { exitCode: 143 },
    ]);
    expect(ledger.size).toBe(0);
  });
});
