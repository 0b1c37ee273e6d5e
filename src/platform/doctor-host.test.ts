import dgram from 'node:dgram';
import packet from 'dns-packet';
import { afterEach, describe, expect, it } from 'vitest';
import { NameServer } from '../dataplane/docker/name-server.js';
import { nameServerChecksOn } from './doctor-host.js';

// Below Linux's ephemeral range (32768+); each loopback address stands for one bridge gateway.
const port = 10_000 + Math.floor(Math.random() * 20_000);
const closers: (() => void)[] = [];
afterEach(() => {
  for (const close of closers.splice(0)) close();
});

/** A UDP socket on `address:port`: silent, or a DNS server that answers every question. */
function holder(address: string, answers: boolean): Promise<void> {
  const socket = dgram.createSocket('udp4');
  closers.push(() => socket.close());
  if (answers)
    socket.on('message', (msg, from) => {
      const q = packet.decode(msg);
      const reply = packet.encode({ type: 'response', id: q.id, flags: 3, questions: q.questions });
      socket.send(reply, from.port, from.address);
    });
  return new Promise((resolve) => socket.bind(port, address, () => resolve()));
}

describe('doctor: the name server on each bridge gateway', () => {
  it('tells Rondo’s name server from another DNS server, a silent holder and a free port', async () => {
    const names = new NameServer({ port });
    closers.push(() => names.close());
    expect(await names.listen({ name: 'rondo-net', gateway: '127.0.0.2', subnet: '127.0.0.0/8' })).toBe(true);
    await holder('127.0.0.3', true);
    await holder('127.0.0.4', false);
    const checks = await nameServerChecksOn(
      [
        { name: 'rondo-net', gateway: '127.0.0.2' },
        { name: 'dnsmasq-net', gateway: '127.0.0.3' },
        { name: 'silent-net', gateway: '127.0.0.4' },
        { name: 'bridge', gateway: '127.0.0.5' },
      ],
      true,
      port,
    );
    expect(checks.map((c) => [c.name, c.ok, c.detail])).toEqual([
      [`name server on 127.0.0.2:${port} (rondo-net)`, true, 'Rondo’s name server answers'],
      [
        `name server on 127.0.0.3:${port} (dnsmasq-net)`,
        false,
        'another DNS server answers there, not Rondo’s',
      ],
      [
        `name server on 127.0.0.4:${port} (silent-net)`,
        false,
        'port 53 is held by a program that does not answer',
      ],
      [`name server on 127.0.0.5:${port} (bridge)`, true, 'port 53 is free for Rondo’s name server'],
    ]);
    for (const failed of checks.filter((c) => !c.ok))
      expect(failed.fix).toMatch(/free port 53 on the Docker bridges/);
  });
});
