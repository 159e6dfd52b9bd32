/**
 * Two network namespaces joined by a delayed link (netem on a veth pair, or a userspace delay line on TUN
 * devices where the kernel has no netem), for the RTT workload. Names are
 * unique per run; cleanup deletes them (which also removes the veth pair) even after a failure or SIGINT.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { onCleanup, run, start, waitFor } from './processes.js';

/** The delay line ships as source next to this file (dist/ has only the compiled TypeScript). */
const delayline = join(
  dirname(fileURLToPath(import.meta.url)),
  '..',
  '..',
  '..',
  'bench/harness/delayline.py',
);

export interface Link {
  clientNs: string;
  serverNs: string;
  clientAddr: string;
  serverAddr: string;
}

/**
 * Whether this kernel has the netem qdisc (some VM kernels are built without CONFIG_NET_SCH_NETEM; fq, which a
 * BPF departure-time delay would need, is often missing with it). Tried in a scratch namespace so nothing
 * outside changes.
 */
export async function netemAvailable(): Promise<boolean> {
  const ns = `sbp-${process.pid.toString(36)}`;
  await run('ip', ['netns', 'add', ns]);
  try {
    await run('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    await run('tc', ['-n', ns, 'qdisc', 'add', 'dev', 'lo', 'root', 'netem', 'delay', '1ms']);
    return true;
  } catch {
    return false;
  } finally {
    await run('ip', ['netns', 'del', ns]);
  }
}

/** How the delay is added: the netem qdisc on a veth pair, or the userspace delay line on two TUN devices. */
export type DelayMethod = 'netem' | 'delayline';

export async function delayMethod(): Promise<DelayMethod | undefined> {
  if (await netemAvailable()) return 'netem';
  if (existsSync('/dev/net/tun') && existsSync('/usr/bin/python3')) return 'delayline';
  return undefined;
}

/**
 * Two namespaces joined by a link that delays each packet `delayMsEachWay` in each direction. With netem: a veth
 * pair with `netem delay` on both ends. Without: harness/delayline.py moves packets between a TUN device in each
 * namespace after the same delay (no rate limit and no loss, as netem with delay alone). Its CPU is nobody's in
 * the figures, the same for every anchor.
 */
export async function createLink(delayMsEachWay: number, method: DelayMethod = 'netem'): Promise<Link> {
  const id = `${process.pid.toString(36)}${Date.now().toString(36).slice(-4)}`;
  const clientNs = `sbc-${id}`;
  const serverNs = `sbs-${id}`;
  const [vc, vs] = [`vbc${id}`.slice(0, 15), `vbs${id}`.slice(0, 15)];
  // A /30 in 10.231/16 picked from the pid: only ever used inside these two namespaces.
  const third = process.pid % 250;
  const clientAddr = `10.231.${third}.1`;
  const serverAddr = `10.231.${third}.2`;
  await run('ip', ['netns', 'add', clientNs]);
  onCleanup(() => run('ip', ['netns', 'del', clientNs], { cleanup: true }).then(() => undefined));
  await run('ip', ['netns', 'add', serverNs]);
  onCleanup(() => run('ip', ['netns', 'del', serverNs], { cleanup: true }).then(() => undefined));
  if (method === 'delayline' && delayMsEachWay > 0) {
    // The devices are created in this namespace by the delay line, then moved (the open files go with them).
    const line = start('/usr/bin/python3', [delayline, vc, vs, String(delayMsEachWay)]);
    await waitFor('delay line', async () => {
      if (line.child.exitCode !== null) throw new Error(`exited: ${line.output().slice(-500)}`);
      return line.output().includes('ready') || undefined;
    });
  } else {
    await run('ip', ['link', 'add', vc, 'type', 'veth', 'peer', 'name', vs]);
  }
  await run('ip', ['link', 'set', vc, 'netns', clientNs]);
  await run('ip', ['link', 'set', vs, 'netns', serverNs]);
  for (const [ns, dev, addr, peer] of [
    [clientNs, vc, clientAddr, serverAddr],
    [serverNs, vs, serverAddr, clientAddr],
  ] as const) {
    await run('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    if (method === 'delayline' && delayMsEachWay > 0) {
      // Point to point; a loopback-sized MTU so that a packet is not the limit (as on the veth pair).
      await run('ip', ['-n', ns, 'addr', 'add', addr, 'peer', peer, 'dev', dev]);
      await run('ip', ['-n', ns, 'link', 'set', dev, 'mtu', '65000', 'up']);
      continue;
    }
    await run('ip', ['-n', ns, 'addr', 'add', `${addr}/30`, 'dev', dev]);
    await run('ip', ['-n', ns, 'link', 'set', dev, 'up']);
    if (delayMsEachWay === 0) continue;
    // netem's default queue (1000 packets) would drop at bulk rates with 10 ms of delay: give it room.
    await run('tc', [
      '-n',
      ns,
      'qdisc',
      'add',
      'dev',
      dev,
      'root',
      'netem',
      'delay',
      `${delayMsEachWay}ms`,
      'limit',
      '100000',
    ]);
  }
  return { clientNs, serverNs, clientAddr, serverAddr };
}
