import dgram from 'node:dgram';
import { once } from 'node:events';
import net from 'node:net';
import packet from 'dns-packet';

/** What one network's names resolve to: `<component>` and `<component>.<project>` → addresses. */
export type NameTable = Record<string, string[]>;

/** Where a network's listener binds, and which senders it answers. */
export interface NameNetwork {
  name: string;
  /** The bridge's address on the host, which every container of the network can reach. */
  gateway: string;
  /** CIDR; queries from elsewhere are refused, so one environment cannot read another's names. */
  subnet: string;
}

interface Listener {
  udp: dgram.Socket;
  tcp: net.Server;
  table: NameTable;
}

/**
 * Rondo's names on Docker networks (§6.4). Docker's embedded DNS answers what it knows and
 * forwards the rest, in order, to a container's DNS servers: a replica gets this server (on its
 * network's gateway address) first and the host's after it. The answers come from the state the
 * gateway routes by, so a replica's names appear when it is ready and switch with the gateway,
 * without the network reconnect Docker needs to change an alias. Names it does not hold are
 * REFUSED, which sends Docker on to the next server; AAAA for a held name is an empty answer.
 */
export class NameServer {
  readonly #port: number;
  readonly #listeners = new Map<string, Listener>();
  readonly #warn: (message: string) => void;

  /** `port` is 53 for real (Docker always asks port 53); tests may use another. */
  constructor(options: { port?: number; warn?: (message: string) => void } = {}) {
    this.#port = options.port ?? 53;
    this.#warn = options.warn ?? (() => undefined);
  }

  /** True when `network` has a listener; replicas started on it then get this server as DNS. */
  serves(network: string): boolean {
    return this.#listeners.has(network);
  }

  /**
   * Starts answering on `network`'s gateway address. Resolves false when the address cannot be
   * bound (not root, port taken); the caller then falls back to Docker's aliases.
   */
  async listen(network: NameNetwork): Promise<boolean> {
    if (this.#listeners.has(network.name)) return true;
    const allowed = subnetCheck(network.subnet);
    const listener: Listener = { udp: dgram.createSocket('udp4'), tcp: net.createServer(), table: {} };
    const answer = (query: Buffer, from: string) =>
      respond(query, allowed(from) ? listener.table : undefined);
    listener.udp.on('message', (msg, peer) => {
      const res = answer(msg, peer.address);
      if (res) listener.udp.send(res, peer.port, peer.address);
    });
    listener.udp.on('error', () => undefined);
    listener.tcp.on('connection', (socket) =>
      serveStream(socket, (q) => answer(q, socket.remoteAddress ?? '')),
    );
    try {
      // `once` rejects on an 'error' event: an address that cannot be bound.
      listener.udp.bind(this.#port, network.gateway);
      await once(listener.udp, 'listening');
      listener.tcp.listen(this.#port, network.gateway);
      await once(listener.tcp, 'listening');
    } catch (err) {
      closeListener(listener);
      const code = (err as NodeJS.ErrnoException).code ?? String(err);
      this.#warn(
        `cannot serve names on ${network.gateway}:${this.#port} (${code}); replicas on ${network.name} get Docker aliases instead, a reconnect of about 100 ms at each rollout`,
      );
      return false;
    }
    // Another caller may have bound it meanwhile (same process): keep one.
    if (this.#listeners.has(network.name)) {
      closeListener(listener);
      return true;
    }
    this.#listeners.set(network.name, listener);
    return true;
  }

  /**
   * Replaces the names of `networks` (default: every listening one) at once; a network absent
   * from `tables` answers nothing.
   */
  publish(tables: Map<string, NameTable>, networks: Iterable<string> = this.#listeners.keys()): void {
    for (const name of networks) {
      const l = this.#listeners.get(name);
      if (l) l.table = normalise(tables.get(name) ?? {});
    }
  }

  /** Stops answering on `network` (it is being removed). */
  forget(network: string): void {
    const l = this.#listeners.get(network);
    if (l) closeListener(l);
    this.#listeners.delete(network);
  }

  close(): void {
    for (const l of this.#listeners.values()) closeListener(l);
    this.#listeners.clear();
  }
}

const normalise = (t: NameTable): NameTable =>
  Object.fromEntries(Object.entries(t).map(([k, v]) => [k.toLowerCase(), v]));

/** RCODE 5 (RFC 1035 §4.1.1); dns-packet encodes the code from the low bits of `flags` only. */
const REFUSED = 5;

/** The response to `raw`, or undefined for what is not a query. `table` undefined: refuse. */
function respond(raw: Buffer, table: NameTable | undefined): Buffer | undefined {
  let query: packet.Packet;
  try {
    query = packet.decode(raw);
  } catch {
    return undefined;
  }
  const question = query.questions?.[0];
  if (query.type !== 'query' || !question) return undefined;
  const name = question.name.replace(/\.$/, '').toLowerCase();
  // Own names only: a replica asking for `constructor` must not find Object.prototype's.
  const addresses = table && Object.hasOwn(table, name) ? table[name] : undefined;
  const base = { id: query.id, type: 'response' as const, questions: query.questions };
  if (!addresses) return packet.encode({ ...base, flags: packet.RECURSION_DESIRED | REFUSED });
  // TTL 0: the answer may change at the next rollout, and nothing between here and the app caches.
  const answers =
    question.type === 'A'
      ? shuffle(addresses).map((data) => ({ type: 'A' as const, name: question.name, ttl: 0, data }))
      : [];
  return packet.encode({ ...base, flags: packet.AUTHORITATIVE_ANSWER | packet.RECURSION_DESIRED, answers });
}

/** Replicas share the load the way Docker's own round-robin aliases do. */
function shuffle<T>(items: T[]): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

function subnetCheck(cidr: string): (address: string) => boolean {
  const [base, bits] = cidr.split('/');
  if (!base || !bits || !net.isIPv4(base)) return () => false;
  const list = new net.BlockList();
  list.addSubnet(base, Number(bits), 'ipv4');
  return (address) => {
    const v4 = address.replace(/^::ffff:/, '');
    return net.isIPv4(v4) && list.check(v4, 'ipv4');
  };
}

/** DNS over TCP: each message is preceded by its length (RFC 1035 §4.2.2). */
function serveStream(socket: net.Socket, answer: (query: Buffer) => Buffer | undefined): void {
  let pending = Buffer.alloc(0);
  socket.setTimeout(5000, () => socket.destroy());
  socket.on('error', () => undefined);
  socket.on('data', (chunk) => {
    pending = Buffer.concat([pending, chunk]);
    while (pending.length >= 2) {
      const size = pending.readUInt16BE(0);
      if (pending.length < 2 + size) return;
      const res = answer(pending.subarray(2, 2 + size));
      pending = pending.subarray(2 + size);
      if (!res) return void socket.destroy();
      const framed = Buffer.alloc(2 + res.length);
      framed.writeUInt16BE(res.length, 0);
      res.copy(framed, 2);
      socket.write(framed);
    }
  });
}

function closeListener(l: Listener): void {
  try {
    l.udp.close();
  } catch {
    // never bound
  }
  l.tcp.close();
}
