import { pino } from 'pino';
import { describe, expect, it, vi } from 'vitest';
import { Pruning } from '../../src/control/pruning.js';

describe('Pruning', () => {
  it('runs every job at start, in order, logs what went, and reports a failing job', async () => {
    const calls: string[] = [];
    const lines: { msg: string; deleted?: number; err?: string }[] = [];
    const logger = pino(
      { level: 'info' },
      { write: (line: string) => lines.push(JSON.parse(line) as (typeof lines)[number]) },
    );
    const job = (name: string, deleted: number) => async () => {
      calls.push(name);
      return deleted;
    };
    const pruning = new Pruning(
      [
        { what: 'old things', prune: job('old', 3) },
        { what: 'nothing', prune: job('none', 0) },
        {
          what: 'broken things',
          prune: async () => {
            calls.push('broken');
            throw new Error('store is gone');
          },
        },
      ],
      logger,
    );
    pruning.start();
    await vi.waitFor(() => expect(calls).toEqual(['old', 'none', 'broken']));
    await pruning.stop();
    expect(lines.map((l) => l.msg)).toEqual(['pruned old things', 'pruning failed']);
    expect(lines[0]?.deleted).toBe(3);
    expect(lines[1]?.err).toContain('store is gone');
  });
});
