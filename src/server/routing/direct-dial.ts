/**
 * Direct routing's dialer: the server connects to a target itself (direct_domains, or hosts outside
 * tunnel_domains). It must not become a way into the server's own network, so it resolves the name once, checks
 * every address it would use, and connects to the checked address itself (no second lookup, so no DNS
 * rebinding). Refused unless the operator allows them (sc-server --direct-allow-networks): loopback, private,
 * shared, link-local (cloud metadata) and multicast ranges. The server's own listeners are refused always.
 */
import { lookup } from 'node:dns/promises';
import { BlockList, connect, isIP, isIPv4, type Socket } from 'node:net';
import { networkInterfaces } from 'node:os';

export interface DirectPolicy {
  /** Networks the operator allows although they are in a refused range (CIDRs, e.g. 127.0.0.1/32). */
  allowed: BlockList;
  /** Ports the server itself listens on (read when dialling: listeners start after the proxy entry is built). */
  ownPorts: () => readonly number[];
  dialTimeoutMs?: number;
}

/** A direct dial refused or failed; `code` is a protocol/errors.ts code. */
export class DirectDialError extends Error {
  constructor(
    readonly code: 'direct_denied' | 'dns_failed' | 'dial_refused' | 'dial_timeout' | 'dial_failed',
    message: string,
  ) {
    super(message);
  }
}

const REFUSED: [string, number, 'ipv4' | 'ipv6'][] = [
  ['0.0.0.0', 8, 'ipv4'],
  ['10.0.0.0', 8, 'ipv4'],
  ['100.64.0.0', 10, 'ipv4'],
  ['127.0.0.0', 8, 'ipv4'],
  ['169.254.0.0', 16, 'ipv4'],
  ['172.16.0.0', 12, 'ipv4'],
  ['192.0.0.0', 24, 'ipv4'],
  ['192.168.0.0', 16, 'ipv4'],
  ['198.18.0.0', 15, 'ipv4'],
  ['224.0.0.0', 3, 'ipv4'],
  ['::', 128, 'ipv6'],
  ['::1', 128, 'ipv6'],
  ['64:ff9b::', 96, 'ipv6'],
  ['fc00::', 7, 'ipv6'],
  ['fe80::', 10, 'ipv6'],
  ['ff00::', 8, 'ipv6'],
];

const refused = new BlockList();
for (const [net, prefix, type] of REFUSED) refused.addSubnet(net, prefix, type);

/** Parses CIDRs (a.b.c.d/n, x::/n, or a bare address) into a BlockList; throws naming the bad one. */
export function parseNetworks(cidrs: readonly string[]): BlockList {
  const list = new BlockList();
  for (const c of cidrs) {
    const [addr = '', len] = c.split('/');
    const type = isIP(addr);
    const max = type === 4 ? 32 : 128;
    const prefix = len === undefined ? max : Number(len);
    if (
      !type ||
      !Number.isInteger(prefix) ||
      prefix < 0 ||
      prefix > max ||
      (len !== undefined && !/^\d+$/.test(len))
    ) {
      throw new Error(`"${c}" is not a network (address/prefix, e.g. 127.0.0.1/32)`);
    }
    list.addSubnet(addr, prefix, type === 4 ? 'ipv4' : 'ipv6');
  }
  return list;
}

/** ::ffff:a.b.c.d is a.b.c.d. */
function plain(address: string): string {
  const m = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  return m ? m[1]! : address;
}

function localAddresses(): Set<string> {
  const out = new Set<string>(['0.0.0.0', '::']);
  for (const list of Object.values(networkInterfaces())) for (const a of list ?? []) out.add(a.address);
  return out;
}

/** Why `address`:`port` may not be dialled, or undefined when it may. */
export function refusal(address: string, port: number, policy: DirectPolicy): string | undefined {
  const a = plain(address);
  const type = isIPv4(a) ? 'ipv4' : 'ipv6';
  const local = localAddresses().has(a) || a.startsWith('127.') || a === '::1';
  if (local && policy.ownPorts().includes(port)) return `${a}:${port} is one of the server's own listeners`;
  if (refused.check(a, type) && !policy.allowed.check(a, type)) {
    return `${a} is a loopback, private or link-local address (allowed only by sc-server --direct-allow-networks)`;
  }
  return undefined;
}

function connectTo(address: string, port: number, timeoutMs: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: address, port });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new DirectDialError('dial_timeout', `connecting to ${address}:${port} timed out`));
    }, timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.removeAllListeners('error');
      resolve(socket);
    });
    socket.once('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(
        new DirectDialError(
          err.code === 'ECONNREFUSED' ? 'dial_refused' : 'dial_failed',
          `${address}:${port}: ${err.code ?? err.message}`,
        ),
      );
    });
  });
}

/** Resolves `host`, checks the addresses, and connects to the first allowed one. */
export async function dialDirect(host: string, port: number, policy: DirectPolicy): Promise<Socket> {
  const bare = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  let addresses: string[];
  if (isIP(bare)) addresses = [bare];
  else {
    try {
      addresses = (await lookup(bare, { all: true, verbatim: true })).map((a) => a.address);
    } catch (err) {
      throw new DirectDialError(
        'dns_failed',
        `${bare}: ${(err as NodeJS.ErrnoException).code ?? 'lookup failed'}`,
      );
    }
  }
  let why = `${bare} has no address`;
  for (const address of addresses) {
    const no = refusal(address, port, policy);
    if (no) {
      why = no;
      continue;
    }
    return connectTo(plain(address), port, policy.dialTimeoutMs ?? 25_000);
  }
  throw new DirectDialError('direct_denied', why);
}
