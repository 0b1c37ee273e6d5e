import dgram from 'node:dgram';
import net from 'node:net';
import packet from 'dns-packet';
import { afterEach, describe, expect, it } from 'vitest';
import { NameServer } from '../../src/dataplane/docker/name-server.js';

// Below Linux's ephemeral range (32768+), where a busy run's outgoing connections take ports.
const port = 10000 + Math.floor(Math.random() * 20000);
const loopback = { name: 'net-a', gateway: '127.0.0.1', subnet: '127.0.0.0/8' };

function ask(name: string, type: 'A' | 'AAAA' = 'A'): Promise<packet.Packet> {
  const socket = dgram.createSocket('udp4');
  return new Promise((resolve, reject) => {
    socket.on('message', (msg) => {
      socket.close();
      resolve(packet.decode(msg));
    });
    socket.on('error', reject);
    socket.send(packet.encode({ id: 7, type: 'query', questions: [{ name, type }] }), port, '127.0.0.1');
  });
}

function askTcp(name: string): Promise<packet.Packet> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () =>
      socket.write(packet.streamEncode({ id: 9, type: 'query', questions: [{ name, type: 'A' }] })),
    );
    socket.on('data', (data) => {
      socket.destroy();
      resolve(packet.streamDecode(data));
    });
    socket.on('error', reject);
  });
}

// dns-packet decodes the response code but its types leave it out.
const rcode = (p: packet.Packet) => (p as { rcode?: string }).rcode;
const addresses = (p: packet.Packet) => (p.answers ?? []).map((a) => (a as { data: string }).data).sort();

describe('NameServer', () => {
  let names: NameServer;
  afterEach(() => names.close());

  it('answers the published names of its network, over UDP and TCP, and switches them at once', async () => {
    names = new NameServer({ port });
    expect(await names.listen(loopback)).toBe(true);
    expect(names.serves('net-a')).toBe(true);
    names.publish(
      new Map([['net-a', { api: ['10.1.0.2', '10.1.0.3'], 'api.shop': ['10.1.0.2', '10.1.0.3'] }]]),
    );
    const a = await ask('api');
    expect(rcode(a)).toBe('NOERROR');
    expect(a.id).toBe(7);
    expect(addresses(a)).toEqual(['10.1.0.2', '10.1.0.3']);
    expect(addresses(await ask('API.Shop.'))).toEqual(['10.1.0.2', '10.1.0.3']);
    expect(addresses(await askTcp('api.shop'))).toEqual(['10.1.0.2', '10.1.0.3']);
    // A held name has no IPv6 address: an empty answer, not a referral elsewhere.
    const aaaa = await ask('api', 'AAAA');
    expect(rcode(aaaa)).toBe('NOERROR');
    expect(aaaa.answers).toEqual([]);

    names.publish(new Map([['net-a', { api: ['10.1.0.9'] }]]));
    expect(addresses(await ask('api'))).toEqual(['10.1.0.9']);
  });

  it('refuses names it does not hold, so Docker asks the next server', async () => {
    names = new NameServer({ port });
    await names.listen(loopback);
    names.publish(new Map([['net-a', { api: ['10.1.0.2'] }]]));
    expect(rcode(await ask('deb.debian.org'))).toBe('REFUSED');
    names.publish(new Map());
    expect(rcode(await ask('api'))).toBe('REFUSED');
  });

  it.each(['constructor', '__proto__'])(
    'refuses %s like any name it does not hold (Object.prototype is not a name table)',
    async (name) => {
      names = new NameServer({ port });
      await names.listen(loopback);
      names.publish(new Map([['net-a', { api: ['10.1.0.2'] }]]));
      expect(rcode(await ask(name))).toBe('REFUSED');
      expect(addresses(await ask('api'))).toEqual(['10.1.0.2']);
    },
  );

  it("refuses a sender outside the network's subnet (another environment asking directly)", async () => {
    names = new NameServer({ port });
    await names.listen({ ...loopback, subnet: '10.200.0.0/16' });
    names.publish(new Map([['net-a', { api: ['10.200.0.5'] }]]));
    const res = await ask('api');
    expect(rcode(res)).toBe('REFUSED');
    expect(res.answers).toEqual([]);
  });

  it('reports an address it cannot bind, and stops answering a forgotten network', async () => {
    names = new NameServer({ port });
    expect(await names.listen({ ...loopback, gateway: '192.0.2.1' })).toBe(false);
    expect(names.serves('net-a')).toBe(false);
    expect(await names.listen(loopback)).toBe(true);
    names.forget('net-a');
    expect(names.serves('net-a')).toBe(false);
    // The port is free again: a new listener binds it.
    expect(await names.listen(loopback)).toBe(true);
  });
});
