import { describe, expect, it } from 'vitest';
import { setConditions } from '../../src/domain/conditions.js';

describe('setting conditions', () => {
  const t0 = new Date('2026-12-01T10:00:00Z');
  const t1 = new Date('2026-12-01T10:05:00Z');

  it('keeps the transition time of a condition whose status does not change, and moves it when it does', () => {
    const first = setConditions([], [{ type: 'Ready', status: 'False', reason: 'RolloutInProgress' }], t0);
    expect(first).toEqual([
      {
        type: 'Ready',
        status: 'False',
        reason: 'RolloutInProgress',
        message: '',
        lastTransitionTime: t0.toISOString(),
        observedGeneration: 1,
      },
    ]);
    const same = setConditions(
      first,
      [{ type: 'Ready', status: 'False', reason: 'Still', message: 'x' }],
      t1,
    );
    expect(same[0]).toMatchObject({ reason: 'Still', message: 'x', lastTransitionTime: t0.toISOString() });
    const flipped = setConditions(same, [{ type: 'Ready', status: 'True', reason: 'ReplicasReady' }], t1);
    expect(flipped[0]?.lastTransitionTime).toBe(t1.toISOString());
  });

  it('keeps the order of existing conditions, adds new ones last, and cuts long messages', () => {
    const a = setConditions([], [{ type: 'Progressing', status: 'True', reason: 'RolloutStarted' }], t0);
    const b = setConditions(
      a,
      [
        { type: 'ImagePinned', status: 'True', reason: 'Pinned', message: 'x'.repeat(5000) },
        { type: 'Progressing', status: 'False', reason: 'RolloutComplete' },
      ],
      t1,
    );
    expect(b.map((c) => c.type)).toEqual(['Progressing', 'ImagePinned']);
    expect(b[1]?.message.length).toBe(1024);
    expect(a[0]?.status).toBe('True');
  });
});
