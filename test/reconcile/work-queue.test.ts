import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { type QueueResult, WorkQueue } from '../../src/deploy/reconcile/work-queue.js';

const settings = { concurrency: 4, backoffMs: 20, maxBackoffMs: 40, onError: () => undefined };

describe('the reconcile work queue', () => {
  it('never handles one key twice at once, and handles a key added meanwhile once more after', async () => {
    let running = 0;
    let most = 0;
    const seen: string[] = [];
    const q = new WorkQueue<string>(
      (k) => k,
      async (k) => {
        running++;
        most = Math.max(most, running);
        seen.push(k);
        await sleep(20);
        running--;
        return {};
      },
      settings,
    );
    q.add('a');
    await sleep(5);
    q.add('a');
    q.add('a');
    q.add('a');
    await q.idle();
    expect(most).toBe(1);
    expect(seen).toEqual(['a', 'a']);
    await q.stop();
  });

  it('deduplicates keys waiting to be handled, and runs different keys side by side', async () => {
    const seen: string[] = [];
    let running = 0;
    let most = 0;
    const q = new WorkQueue<string>(
      (k) => k,
      async (k) => {
        running++;
        most = Math.max(most, running);
        seen.push(k);
        await sleep(10);
        running--;
        return {};
      },
      { ...settings, concurrency: 2 },
    );
    // a and b start at once; c waits, and adding it again while it waits changes nothing.
    for (const k of ['a', 'b', 'c', 'c', 'c']) q.add(k);
    await q.idle();
    expect(seen.sort()).toEqual(['a', 'b', 'c']);
    expect(most).toBe(2);
    await q.stop();
  });

  it('comes back to a key that asked to be requeued, and idle waits for it', async () => {
    const results: QueueResult[] = [{ requeueAfter: 30 }, { requeueAfter: 10 }, {}];
    let calls = 0;
    const q = new WorkQueue<string>(
      (k) => k,
      async () => results[calls++] ?? {},
      settings,
    );
    q.add('a');
    await q.idle();
    expect(calls).toBe(3);
    await q.stop();
  });

  it('retries a failing key with backoff, and a key retrying after an error does not keep it busy', async () => {
    let calls = 0;
    const errors: string[] = [];
    const q = new WorkQueue<string>(
      (k) => k,
      async () => {
        calls++;
        if (calls < 3) throw new Error(`boom ${calls}`);
        return {};
      },
      { ...settings, onError: (_k, err) => errors.push((err as Error).message) },
    );
    q.add('a');
    await q.idle();
    expect(calls).toBe(1);
    await sleep(100);
    expect(calls).toBe(3);
    expect(errors).toEqual(['boom 1', 'boom 2']);
    await q.stop();
  });

  it('stops: aborts the handler in progress and takes no more keys', async () => {
    let aborted = false;
    let calls = 0;
    const q = new WorkQueue<string>(
      (k) => k,
      async (_k, signal) => {
        calls++;
        await sleep(20);
        aborted = signal.aborted;
        return { requeueAfter: 1 };
      },
      settings,
    );
    q.add('a');
    await sleep(5);
    await q.stop();
    expect(aborted).toBe(true);
    q.add('b');
    await sleep(20);
    expect(calls).toBe(1);
  });
});
