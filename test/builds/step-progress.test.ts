import { PassThrough } from 'node:stream';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { BuildChanges } from '../../src/builds/build-changes.js';
import { stepProgress } from '../../src/builds/step-progress.js';
import { buildLogWriter, LiveLines } from '../../src/cli/commands/live-lines.js';

describe('step progress', () => {
  afterEach(() => vi.useRealTimers());

  it('tells followers where a running step is every second, and wakes them; nothing once it ends', async () => {
    vi.useFakeTimers();
    const changes = new BuildChanges();
    let woken = 0;
    void changes.next('bld_a', 60_000).then(() => woken++);
    const p = stepProgress(changes, 'bld_a', 'push');
    p.detail('layer 3f2a9c8b7d61 10.0 MB / 41.2 MB');
    await vi.advanceTimersByTimeAsync(1000);
    expect(changes.progressOf('bld_a')).toBe('push 1 s: layer 3f2a9c8b7d61 10.0 MB / 41.2 MB');
    expect(woken).toBe(1);
    p.stop();
    expect(changes.progressOf('bld_a')).toBeUndefined();
  });

  it('says how long a quiet step has been quiet, after its last line', async () => {
    vi.useFakeTimers();
    const changes = new BuildChanges();
    const p = stepProgress(changes, 'bld_a', 'build');
    p.saw('#9 [4/6] RUN \u001b[1mnpm ci\u001b[0m\u0007');
    await vi.advanceTimersByTimeAsync(1000);
    expect(changes.progressOf('bld_a')).toBe('build 1 s');
    await vi.advanceTimersByTimeAsync(4000);
    expect(changes.progressOf('bld_a')).toBe('build 5 s, quiet for 5 s after: #9 [4/6] RUN npm ci');
    p.stop();
  });
});

describe('a followed build log off a terminal', () => {
  it('writes log lines as they come and a progress line every 10 s at most, without its marker', () => {
    const out = new PassThrough() as unknown as NodeJS.WriteStream;
    let text = '';
    (out as unknown as PassThrough).on('data', (c: Buffer) => {
      text += c.toString();
    });
    const w = buildLogWriter(out);
    w.write('--- push\nlayer 3f2a9c8b7d61 already');
    w.write(' in the registry\n\rpush 1 s: layer a 1 B\n\rpush 2 s: layer a 2 B\n');
    w.write('digest sha256:1\n');
    w.end();
    expect(text).toBe(
      '--- push\nlayer 3f2a9c8b7d61 already in the registry\n… push 1 s: layer a 1 B\ndigest sha256:1\n',
    );
  });
});

describe('live lines on a terminal', () => {
  it('keeps live lines below the lasting ones, rewrites them in place, and clears them at the end', async () => {
    vi.useFakeTimers();
    const out = new PassThrough() as unknown as NodeJS.WriteStream & PassThrough;
    Object.assign(out, { isTTY: true, columns: 40 });
    let screen = '';
    out.on('data', (c: Buffer) => {
      screen += c.toString();
    });
    const live = new LiveLines(out);
    live.set('node', 'node 18 1.0 s  Unpacking nodejs');
    live.set('node', 'node 18 1.1 s  Unpacking npm');
    await vi.advanceTimersByTimeAsync(100);
    live.line('✓ static 2: 41.6 MB in 3.1 s');
    live.done();
    vi.useRealTimers();
    // One redraw for both changes; the lasting line erases the live one and redraws it under it.
    expect(screen).toBe(
      '\r\x1b[Jnode 18 1.1 s  Unpacking npm\n' +
        '\x1b[1A\r\x1b[J✓ static 2: 41.6 MB in 3.1 s\nnode 18 1.1 s  Unpacking npm\n' +
        '\x1b[1A\r\x1b[J',
    );
  });
});
