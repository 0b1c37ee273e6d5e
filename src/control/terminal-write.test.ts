import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { writeTerminalState } from './terminal-write.js';

const log = pino({ level: 'silent' });
const NO_WAIT = [0, 0, 0];

/** A write that fails `failures` times, then succeeds; counts its calls. */
function flaky(failures: number, message = 'connection terminated') {
  const calls = { n: 0 };
  const write = async () => {
    calls.n++;
    if (calls.n <= failures) throw new Error(message);
  };
  return { write, calls };
}

describe('writing a terminal state', () => {
  it('retries a write that fails for a moment, without the fallback', async () => {
    const full = flaky(2);
    const fallback = flaky(0);
    expect(await writeTerminalState(log, 'build b', full.write, fallback.write, NO_WAIT)).toBe(true);
    expect(full.calls.n).toBe(3);
    expect(fallback.calls.n).toBe(0);
  });

  it('falls back to the state and the reason when the full write keeps failing', async () => {
    const full = flaky(Number.POSITIVE_INFINITY, 'unsupported Unicode escape sequence \0');
    let whyNot = '';
    const ok = await writeTerminalState(
      log,
      'build b',
      full.write,
      async (why) => {
        whyNot = why;
      },
      NO_WAIT,
    );
    expect(ok).toBe(true);
    expect(full.calls.n).toBe(4);
    expect(whyNot).toBe('unsupported Unicode escape sequence \ufffd');
  });

  it('says so when nothing can be written', async () => {
    const full = flaky(Number.POSITIVE_INFINITY);
    const fallback = flaky(Number.POSITIVE_INFINITY);
    expect(await writeTerminalState(log, 'build b', full.write, fallback.write, NO_WAIT)).toBe(false);
    expect(fallback.calls.n).toBe(4);
  });
});
