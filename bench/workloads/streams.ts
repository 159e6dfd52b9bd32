/**
 * Many streams: N idle CONNECT streams through one tunnel, RSS of sc and sc-server before and while they are
 * held; (after - before) / N is the cost of one stream. A fresh server and client, so earlier workloads' heaps
 * do not blur the baseline.
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LOOPBACK, type Placement } from '../anchors/anchor.js';
import { proxyAuthorization, startSluiceClient, startSluiceServer } from '../anchors/sluice.js';
import { waitUntilServing } from '../anchors/probe.js';
import { rssKiB, sleep, start, waitFor } from '../harness/processes.js';
import type { Results } from '../report/results.js';

const holderMain = join(fileURLToPath(new URL('.', import.meta.url)), '..', 'stream-holder.js');

export async function streamsWorkload(place: Placement, count: number, log: (l: string) => void) {
  const server = await startSluiceServer(place);
  // Capacity is connections x streams per connection; SC5's default (256 per connection) holds about 2,000 on
  // 2 cores, so the bench raises the per-connection limit as a user holding 10,000 streams would.
  const client = await startSluiceClient(server, 'bench-streams', place, [
    '--tunnel-max-concurrent-streams',
    String(count),
  ]);
  const auth = proxyAuthorization(server, 'bench-streams');
  const [host, port] = server.info.proxy_address.split(':');
  const proxy = { host: host!, port: Number(port), authorization: auth };
  await waitUntilServing({ proxy, url: `http://${LOOPBACK}:${place.origin.http}` });
  const pids = { sc: client.proc.pid, 'sc-server': server.proc.pid };
  const rss = async (): Promise<Record<string, number>> => ({
    sc: await rssKiB(pids.sc),
    'sc-server': await rssKiB(pids['sc-server']),
  });
  await sleep(1000);
  const before = await rss();
  const holder = start(process.execPath, [
    holderMain,
    '--proxy',
    server.info.proxy_address,
    '--auth',
    auth,
    '--target',
    `${LOOPBACK}:${place.origin.echo}`,
    '--count',
    String(count),
    '--hold-ms',
    '5000',
  ]);
  const opened = await waitFor(
    'streams to open',
    async () => {
      const m = /OPEN (\d+) (\d+)/.exec(holder.output());
      if (!m && holder.child.exitCode !== null) throw new Error(holder.output().slice(-500));
      return m ? { ok: Number(m[1]), failed: Number(m[2]) } : undefined;
    },
    180_000,
  );
  await sleep(2000);
  const after = await rss();
  await holder.exited;
  const echoed = Number(/ECHO (\d+)/.exec(holder.output())?.[1] ?? 0);
  const kibPerStream: Record<string, number> = {};
  for (const k of Object.keys(after)) kibPerStream[k] = (after[k]! - before[k]!) / Math.max(1, opened.ok);
  log(
    `streams ${opened.ok}/${count} open (${opened.failed} failed), ${echoed} echoed; KiB/stream ` +
      `sc ${kibPerStream.sc!.toFixed(1)} sc-server ${kibPerStream['sc-server']!.toFixed(1)}`,
  );
  await client.proc.stop();
  await server.proc.stop();
  const result: NonNullable<Results['streams']> = {
    count,
    opened: opened.ok,
    failed: opened.failed,
    echoed,
    rssBeforeKiB: before,
    rssAfterKiB: after,
    kibPerStream,
  };
  return result;
}
