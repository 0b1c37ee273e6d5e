import dgram from 'node:dgram';
import { request } from 'node:http';
import packet from 'dns-packet';
import type { Check } from './doctor-check.js';
import { HOST_PROGRAMS, type HostProgram, locateProgram } from './host-programs.js';

/** One check per host program Rondo starts: present, or which package to install. */
export function programChecks(dockerCli: string | undefined): Check[] {
  return HOST_PROGRAMS.map((program) => {
    const p: HostProgram =
      program.command === 'docker' && dockerCli ? { ...program, paths: [dockerCli] } : program;
    const at = locateProgram(p);
    return {
      name: `program ${p.command}`,
      ok: at !== undefined,
      detail: at ? `found at ${at}` : `not installed; needed for ${p.usedFor}`,
      fix: `apt-get install ${p.debianPackage} (or run scripts/install-deps.sh runtime)`,
    };
  });
}

export interface BridgeNetwork {
  name: string;
  gateway: string;
}

/** Rondo's bridge networks (and Docker's default bridge) with their gateway addresses. */
function bridgeGateways(socketPath: string): Promise<BridgeNetwork[]> {
  return new Promise((resolve) => {
    const req = request({ socketPath, path: '/networks', timeout: 3000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        body += c;
      });
      res.on('end', () => {
        try {
          const nets = JSON.parse(body) as {
            Name: string;
            Driver: string;
            Labels?: Record<string, string> | null;
            IPAM?: { Config?: { Gateway?: string; Subnet?: string }[] | null };
          }[];
          resolve(
            nets
              .filter((n) => n.Driver === 'bridge' && (n.Name === 'bridge' || n.Labels?.['rondo.instance']))
              .flatMap((n) => {
                const v4 = n.IPAM?.Config?.find((c) => c.Gateway?.includes('.') || c.Subnet?.includes('.'));
                // Docker's default bridge often records only its subnet; its gateway is the first host.
                const gateway = v4?.Gateway ?? firstHost(v4?.Subnet);
                return gateway ? [{ name: n.Name, gateway }] : [];
              }),
          );
        } catch {
          resolve([]);
        }
      });
    });
    req.on('error', () => resolve([]));
    req.on('timeout', () => req.destroy());
    req.end();
  });
}

/** `172.17.0.0/16` → `172.17.0.1`. */
function firstHost(subnet: string | undefined): string | undefined {
  const octets = subnet?.split('/')[0]?.split('.').map(Number);
  if (octets?.length !== 4 || octets.some((o) => !Number.isInteger(o))) return undefined;
  return [...octets.slice(0, 3), (octets[3] ?? 0) + 1].join('.');
}

type Probe = 'rondo' | 'other' | 'silent';

/**
 * Asks `address:53` for a name no one holds. Rondo's name server refuses names it does not hold
 * (so Docker asks the next server); any other DNS server answers otherwise or forwards.
 */
function probeNameServer(address: string, port: number, timeoutMs = 1000): Promise<Probe> {
  return new Promise((resolve) => {
    const socket = dgram.createSocket('udp4');
    const done = (p: Probe) => {
      clearTimeout(timer);
      socket.close();
      resolve(p);
    };
    const timer = setTimeout(() => done('silent'), timeoutMs);
    socket.on('error', () => done('silent'));
    socket.on('message', (msg) => {
      try {
        const answer = packet.decode(msg);
        // The response code is the low four bits of the flags; 5 is REFUSED.
        done(((answer.flags ?? 0) & 0x0f) === 5 ? 'rondo' : 'other');
      } catch {
        done('other');
      }
    });
    const query = packet.encode({
      type: 'query',
      id: 4242,
      flags: packet.RECURSION_DESIRED,
      questions: [{ type: 'A', name: 'rondo-doctor.invalid' }],
    });
    socket.send(query, port, address);
  });
}

/** Whether this process could bind `address:53` (false: taken, or not allowed). */
function bindable(address: string, port: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const socket = dgram.createSocket('udp4');
    socket.once('error', (err: NodeJS.ErrnoException) => {
      socket.close();
      resolve(err.code ?? String(err));
    });
    socket.bind(port, address, () => socket.close(() => resolve(undefined)));
  });
}

/**
 * Port 53 on each bridge gateway, where Rondo answers replicas' names (docs/decisions.md,
 * "Readiness before names"). Without it replicas fall back to Docker aliases: names still work,
 * but each rollout reconnects every replica.
 */
export async function nameServerChecks(socketPath: string, controlPlaneUp: boolean): Promise<Check[]> {
  return nameServerChecksOn(await bridgeGateways(socketPath), controlPlaneUp);
}

/** The checks of `nameServerChecks` on given networks; `port` is 53 but for tests. */
export async function nameServerChecksOn(
  networks: BridgeNetwork[],
  controlPlaneUp: boolean,
  port = 53,
): Promise<Check[]> {
  const fix =
    'free port 53 on the Docker bridges: stop the DNS server that holds it (ss -lunp "sport = :53"), or bind it to 127.0.0.1 only; the control plane must run as root (or with CAP_NET_BIND_SERVICE)';
  const checks: Check[] = [];
  for (const net of networks) {
    const name = `name server on ${net.gateway}:${port} (${net.name})`;
    const answered = await probeNameServer(net.gateway, port);
    if (answered === 'rondo') {
      checks.push({ name, ok: true, detail: 'Rondo’s name server answers' });
      continue;
    }
    if (answered === 'other') {
      checks.push({ name, ok: false, detail: 'another DNS server answers there, not Rondo’s', fix });
      continue;
    }
    // Nothing answers. Docker's default bridge has no Rondo listener; a Rondo network should.
    const refused = await bindable(net.gateway, port);
    if (refused === 'EADDRINUSE') {
      checks.push({ name, ok: false, detail: 'port 53 is held by a program that does not answer', fix });
    } else if (refused === 'EACCES') {
      checks.push({ name, ok: !controlPlaneUp, detail: 'binding port 53 needs root here', fix });
    } else if (controlPlaneUp && net.name !== 'bridge') {
      // Not a failure: the network may be another installation's whose control plane is down
      // (doctor cannot tell whose it is); this one's log warns when it falls back to aliases.
      checks.push({
        name,
        ok: true,
        detail:
          'nothing answers, port 53 is free: its installation is down, or its replicas use Docker aliases (see the control plane log)',
      });
    } else {
      checks.push({ name, ok: true, detail: 'port 53 is free for Rondo’s name server' });
    }
  }
  return checks;
}
