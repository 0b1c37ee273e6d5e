import { describe, expect, it } from 'vitest';
import { dockerSince, logFrames, stampNanos } from '../../src/dataplane/docker/log-frames.js';

function frame(stream: 1 | 2, text: string): Buffer {
  const payload = Buffer.from(text);
  const header = Buffer.alloc(8);
  header[0] = stream;
  header.writeUInt32BE(payload.length, 4);
  return Buffer.concat([header, payload]);
}

async function collect(chunks: Buffer[]) {
  const out = [];
  async function* source() {
    yield* chunks;
  }
  for await (const l of logFrames(source())) out.push({ ...l, ns: l.ns.toString() });
  return out;
}

describe("Docker's multiplexed, timestamped log stream", () => {
  it('gives each line its stream and nanosecond time, across frames cut anywhere', async () => {
    const all = Buffer.concat([
      frame(1, '2026-11-30T12:00:00.000000001Z hello\n'),
      frame(2, '2026-11-30T12:00:00.123456789Z oops é\n'),
      frame(1, '2026-11-30T12:00:01.5Z no newline'),
    ]);
    // Cut inside a header, inside a payload and inside a UTF-8 character.
    const cuts = [3, 30, all.indexOf(Buffer.from('é')) + 1];
    const chunks = [
      all.subarray(0, cuts[0]),
      all.subarray(cuts[0], cuts[1]),
      all.subarray(cuts[1], cuts[2]),
      all.subarray(cuts[2]),
    ];
    expect(await collect(chunks)).toEqual([
      { stream: 'stdout', ns: '1796040000000000001', text: 'hello' },
      { stream: 'stderr', ns: '1796040000123456789', text: 'oops é' },
      { stream: 'stdout', ns: '1796040001500000000', text: 'no newline' },
    ]);
  });

  it('says since as seconds.nanoseconds, the inverse of the stamps it reads', () => {
    const ns = stampNanos('2026-11-30T12:00:00', '000000042');
    expect(dockerSince(ns)).toBe('1796040000.000000042');
  });
});
