import { describe, expect, it, vi } from 'vitest';
import { Periodic } from '../../src/control/periodic.js';

describe('Periodic', () => {
  it('runs at once and again after each pass; stop waits for the running pass, and nothing runs after', async () => {
    let runs = 0;
    let release: () => void = () => undefined;
    const p = new Periodic(
      async () => {
        runs++;
        if (runs === 2) await new Promise<void>((r) => (release = r));
      },
      1,
      () => undefined,
    );
    p.start();
    await vi.waitFor(() => expect(runs).toBe(2));
    const stopped = p.stop();
    release();
    await stopped;
    await new Promise((r) => setTimeout(r, 20));
    expect(runs).toBe(2);
  });

  it('reports a failed pass and keeps going', async () => {
    const errors: unknown[] = [];
    let runs = 0;
    const p = new Periodic(
      async () => {
        runs++;
        if (runs === 1) throw new Error('first pass fails');
      },
      1,
      (err) => errors.push(err),
    );
    p.start();
    await vi.waitFor(() => expect(runs).toBeGreaterThanOrEqual(2));
    await p.stop();
    expect(errors).toEqual([new Error('first pass fails')]);
  });
});
