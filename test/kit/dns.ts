/**
 * A tiny DNS server for tests: UDP on 127.0.0.1 port 0, answering A queries from a fixed table (`app.test` ->
 * 127.0.0.1), NXDOMAIN for other names, and silence for names in `silent` (to exercise timeouts). `queries` lists
 * every name asked, in order.
 */
import dgram from 'node:dgram';
import dnsPacket from 'dns-packet';
import { onCleanup } from './cleanup.js';

export interface TestDns {
  /** `127.0.0.1:port`, as --dns-server takes it. */
  address: string;
  queries: string[];
  close(): Promise<void>;
}

export async function startDns(
  records: Record<string, string> = { 'app.test': '127.0.0.1' },
  silent: readonly string[] = [],
): Promise<TestDns> {
  const sock = dgram.createSocket('udp4');
  const queries: string[] = [];
  sock.on('message', (msg, rinfo) => {
    let q: dnsPacket.Packet;
    try {
      q = dnsPacket.decode(msg);
    } catch {
      return;
    }
    const question = q.questions?.[0];
    if (!question) return;
    const name = question.name.toLowerCase();
    queries.push(name);
    if (silent.includes(name)) return;
    const ip = records[name];
    const answers: dnsPacket.Answer[] =
      ip && question.type === 'A' ? [{ type: 'A', name: question.name, ttl: 5, data: ip }] : [];
    const res = dnsPacket.encode({
      type: 'response',
      id: q.id,
      flags: dnsPacket.RECURSION_DESIRED | dnsPacket.RECURSION_AVAILABLE | (ip ? 0 : 3), // rcode 3: NXDOMAIN
      questions: q.questions,
      answers,
    });
    sock.send(res, rinfo.port, rinfo.address);
  });
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', r));
  const close = (): Promise<void> => new Promise((r) => sock.close(() => r()));
  const off = onCleanup(close);
  return {
    address: `127.0.0.1:${sock.address().port}`,
    queries,
    close: async () => {
      await off();
    },
  };
}
