import { describe, expect, it } from 'vitest';
import { engineExits } from '../../src/dataplane/docker/engine-events.js';

const event = (action: string, id: string, attributes: Record<string, string>) =>
  `${JSON.stringify({ Type: 'container', Action: action, status: action, id, Actor: { ID: id, Attributes: attributes } })}\n`;

describe("Docker's container events as workload exits", () => {
  it('joins an oom event to the die that follows it, across chunks cut anywhere', async () => {
    const text = [
      event('oom', 'a', { name: 'replica-a', 'rondo.replica': '0' }),
      event('die', 'a', { name: 'replica-a', exitCode: '137', 'rondo.replica': '0' }),
      event('die', 'b', { name: 'replica-b', exitCode: '3', 'rondo.replica': '1' }),
      'not json\n',
    ].join('');
    async function* chunks() {
      for (let i = 0; i < text.length; i += 17) yield Buffer.from(text.slice(i, i + 17));
    }
    const exits = [];
    for await (const e of engineExits(chunks())) exits.push(e);
    expect(exits).toEqual([
      { id: 'a', name: 'replica-a', labels: { 'rondo.replica': '0' }, exitCode: 137, oomKilled: true },
      { id: 'b', name: 'replica-b', labels: { 'rondo.replica': '1' }, exitCode: 3, oomKilled: false },
    ]);
  });
});
