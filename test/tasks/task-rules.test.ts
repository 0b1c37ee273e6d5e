import { describe, expect, it } from 'vitest';
import { argProblems, scheduleProblems } from '../../src/domain/task.js';
import { LogTail } from '../../src/tasks/log-tail.js';
import { unsentRest } from '../../src/tasks/task-runs.js';

const site = { allowSeconds: false, minIntervalSeconds: 60 };

describe('schedule rules', () => {
  it('accepts 5-field expressions in a real time zone', () => {
    expect(scheduleProblems({ cron: '0 3 * * *', timezone: 'Europe/Berlin' }, site)).toEqual([]);
    expect(scheduleProblems({ cron: '*/5 * * * mon-fri', timezone: 'UTC' }, site)).toEqual([]);
    expect(scheduleProblems({ cron: '@daily', timezone: 'Asia/Kolkata' }, site)).toEqual([]);
  });

  it('names the field and passes the parser’s message on', () => {
    const [bad] = scheduleProblems({ cron: '0 25 * * *', timezone: 'UTC' }, site);
    expect(bad).toMatchObject({
      field: 'schedule.cron',
      message: expect.stringMatching(/^'0 25 \* \* \*' is not a cron expression: .*hour/),
    });
    const [zone] = scheduleProblems({ cron: '0 3 * * *', timezone: 'Europe/Nowhere' }, site);
    expect(zone).toMatchObject({
      field: 'schedule.timezone',
      message: expect.stringMatching(/IANA time zone/),
    });
  });

  it('refuses seconds unless the site allows them, with the 5-field hint', () => {
    const [six] = scheduleProblems({ cron: '*/30 * * * * *', timezone: 'UTC' }, site);
    expect(six?.message).toMatch(/use 5 fields/);
    expect(
      scheduleProblems(
        { cron: '*/30 * * * * *', timezone: 'UTC' },
        { allowSeconds: true, minIntervalSeconds: 60 },
      )[0]?.message,
    ).toMatch(/runs every 30 s; this site allows at most one run every 60 s/);
    expect(
      scheduleProblems(
        { cron: '*/30 * * * * *', timezone: 'UTC' },
        { allowSeconds: true, minIntervalSeconds: 30 },
      ),
    ).toEqual([]);
  });

  it('refuses a schedule more frequent than the site’s minimum', () => {
    const strict = { allowSeconds: false, minIntervalSeconds: 600 };
    expect(scheduleProblems({ cron: '*/5 * * * *', timezone: 'UTC' }, strict)[0]?.message).toMatch(
      /runs every 300 s/,
    );
    expect(scheduleProblems({ cron: '*/10 * * * *', timezone: 'UTC' }, strict)).toEqual([]);
  });

  it('refuses arguments with newlines or NUL, naming the argument', () => {
    expect(argProblems(['a', 'b c', '$(rm -rf /)'])).toEqual([]);
    expect(argProblems(['ok', 'x\ny', 'z\u0000'])).toEqual([
      expect.objectContaining({ field: 'args[1]' }),
      expect.objectContaining({ field: 'args[2]' }),
    ]);
    expect(argProblems(Array(101).fill('a'))[0]?.field).toBe('args');
  });
});

describe('LogTail', () => {
  it('keeps everything under the limit', () => {
    const t = new LogTail(100);
    t.push('one\n');
    t.push(Buffer.from('two\n'));
    expect(t.text()).toBe('one\ntwo\n');
    expect(t.truncated).toBe(false);
  });

  it('keeps the last bytes and says how many went', () => {
    const t = new LogTail(10);
    for (let i = 0; i < 5; i++) t.push(`line${i}\n`);
    expect(t.truncated).toBe(true);
    expect(t.text()).toBe(
      '[rondo: the first 20 bytes of this log were dropped; an execution keeps its last 10 bytes]\nne3\nline4\n',
    );
  });

  it('adds a last line the stream missed, without repeating what it has', () => {
    const t = new LogTail(1000);
    t.push('a\nb\n');
    t.completeWith('b\nc');
    expect(t.text()).toBe('a\nb\nc');
    t.completeWith('b\nc');
    expect(t.text()).toBe('a\nb\nc');
    const empty = new LogTail(1000);
    empty.completeWith('only line');
    expect(empty.text()).toBe('only line');
  });
});

describe('unsentRest', () => {
  it('gives a follower what the stored log has beyond what it got', () => {
    expect(unsentRest('', 'all of it\n')).toBe('all of it\n');
    expect(unsentRest('a\nb\n', 'a\nb\nc')).toBe('c');
    expect(unsentRest('a\nb\nc', 'a\nb\nc')).toBe('');
    // The stored log dropped its start: the end of what was sent still anchors it.
    const long = `${'x'.repeat(1000)}tail\n`;
    expect(unsentRest(long, `[rondo: dropped]\n${long.slice(-300)}last`)).toBe('last');
    expect(unsentRest('never stored\n', 'something else')).toBe('');
  });
});
