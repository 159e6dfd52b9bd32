/**
 * Two network namespaces joined by a veth pair with netem delay on both ends, for the RTT workload. Names are
 * unique per run; cleanup deletes them (which also removes the veth pair) even after a failure or SIGINT.
 */
import { onCleanup, run } from './processes.js';

export interface Link {
  clientNs: string;
  serverNs: string;
  clientAddr: string;
  serverAddr: string;
}

/**
 * Whether this kernel has the netem qdisc (some VM kernels are built without CONFIG_NET_SCH_NETEM, and
 * then no delay can be added at all: fq for BPF departure times is missing there too). Tried in a scratch
 * namespace so nothing outside changes.
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

export async function createLink(delayMsEachWay: number): Promise<Link> {
  const id = `${process.pid.toString(36)}${Date.now().toString(36).slice(-4)}`;
  const clientNs = `sbc-${id}`;
  const serverNs = `sbs-${id}`;
  const [vc, vs] = [`vbc${id}`.slice(0, 15), `vbs${id}`.slice(0, 15)];
  // A /30 in 10.231/16 picked from the pid: only ever used inside these two namespaces.
  const third = process.pid % 250;
  const clientAddr = `10.231.${third}.1`;
  const serverAddr = `10.231.${third}.2`;
  await run('ip', ['netns', 'add', clientNs]);
  onCleanup(() => run('ip', ['netns', 'del', clientNs]).then(() => undefined));
  await run('ip', ['netns', 'add', serverNs]);
  onCleanup(() => run('ip', ['netns', 'del', serverNs]).then(() => undefined));
  await run('ip', ['link', 'add', vc, 'type', 'veth', 'peer', 'name', vs]);
  await run('ip', ['link', 'set', vc, 'netns', clientNs]);
  await run('ip', ['link', 'set', vs, 'netns', serverNs]);
  for (const [ns, dev, addr] of [
    [clientNs, vc, clientAddr],
    [serverNs, vs, serverAddr],
  ] as const) {
    await run('ip', ['-n', ns, 'addr', 'add', `${addr}/30`, 'dev', dev]);
    await run('ip', ['-n', ns, 'link', 'set', dev, 'up']);
    await run('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
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
