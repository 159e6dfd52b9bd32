/**
 * The small-request and bulk workloads over a set of running anchors, alternating: round 1 runs A B C D E, round
 * 2 runs A B C D E again, and so on, so drift on the shared machine hits every anchor alike.
 */
import type { AnchorName, Endpoint } from '../anchors/anchor.js';
import { cpuMs } from '../harness/cpu.js';
import { bulkDownload, bulkUpload } from '../harness/curl-bulk.js';
import { median } from '../harness/stats.js';
import { wrkSmall, type SmallResult } from '../harness/wrk.js';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { run } from '../harness/processes.js';
import type { BulkSeries, SmallSeries } from '../report/results.js';

const connectMain = join(fileURLToPath(new URL('.', import.meta.url)), '..', 'connect-load.js');

/** The small-request load from the Node generator: inside CONNECT through proxies, straight otherwise. */
async function connectSmall(ep: Endpoint, o: RoundOptions): Promise<SmallResult> {
  const origin = new URL(ep.url);
  const args = [connectMain, '--seconds', String(o.smallSeconds), '--connections', String(o.connections)];
  if (ep.proxy) {
    args.push('--proxy', `${ep.proxy.host}:${ep.proxy.port}`, '--target', origin.host);
    if (ep.proxy.authorization) args.push('--auth', ep.proxy.authorization);
  } else {
    args.push('--target', origin.host);
    if (ep.hostHeader) args.push('--host-header', ep.hostHeader);
  }
  const out = await run(process.execPath, args, { netns: o.netns });
  return JSON.parse(out.trim().split('\n').at(-1)!) as SmallResult;
}

export interface RoundOptions {
  rounds: number;
  dir: string;
  smallSeconds: number;
  connections: number;
  bulkBytes: number;
  uploadFile: string;
  /** Namespace of the load generator (the server side), if any. */
  netns?: string;
  log(line: string): void;
  notes: string[];
}

export async function smallRounds(
  eps: Endpoint[],
  o: RoundOptions,
  tool: 'wrk' | 'connect' = 'wrk',
): Promise<Partial<Record<AnchorName, SmallSeries>>> {
  const out: Partial<Record<AnchorName, SmallSeries>> = {};
  for (const ep of eps) out[ep.name] = { rounds: [] };
  for (let r = 0; r < o.rounds; r++) {
    // Odd rounds run the anchors in reverse order, so neither side of an A/B always goes first.
    for (const ep of r % 2 ? [...eps].reverse() : eps) {
      const series = out[ep.name]!;
      try {
        const cpu0 = await cpuMs(Object.values(ep.pids));
        const roles = Object.entries(ep.pids);
        const byRole0 = await Promise.all(roles.map(([, pid]) => cpuMs([pid])));
        const res =
          tool === 'connect'
            ? await connectSmall(ep, o)
            : await wrkSmall(ep, {
                dir: o.dir,
                seconds: o.smallSeconds,
                connections: o.connections,
                threads: 2,
                netns: o.netns,
              });
        // Note: a process's children are counted once they exit too (sshd's per-connection child stays up).
        res.cpuUsPerReq = (((await cpuMs(Object.values(ep.pids))) - cpu0) * 1000) / Math.max(1, res.requests);
        // Per process too (sc and sc-server apart), for A/B runs of one side.
        const byRole1 = await Promise.all(roles.map(([, pid]) => cpuMs([pid])));
        const split = roles
          .map(
            ([role], i) =>
              `${role} ${(((byRole1[i]! - byRole0[i]!) * 1000) / Math.max(1, res.requests)).toFixed(0)}`,
          )
          .join(', ');
        series.rounds[r] = res;
        o.log(
          `${tool === 'connect' ? 'connect' : 'small'} r${r + 1} ${ep.name}: ${res.rps.toFixed(0)} req/s p50 ${res.p50Ms.toFixed(2)} ms ` +
            `p99 ${res.p99Ms.toFixed(2)} ms errors ${res.errors}; tunnel CPU ${res.cpuUsPerReq.toFixed(0)} us/req (${split})`,
        );
      } catch (err) {
        o.notes.push(`small round ${r + 1} ${ep.name} failed: ${(err as Error).message.slice(0, 300)}`);
      }
    }
  }
  for (const s of Object.values(out)) {
    const ok = s.rounds.filter((x) => x !== undefined);
    if (ok.length === 0) continue;
    s.median = {
      rps: median(ok.map((x) => x.rps)),
      p50Ms: median(ok.map((x) => x.p50Ms)),
      p99Ms: median(ok.map((x) => x.p99Ms)),
      errors: ok.reduce((a, x) => a + x.errors, 0),
      cpuUsPerReq: median(ok.map((x) => x.cpuUsPerReq ?? Number.NaN)),
    };
  }
  return out;
}

export async function bulkRounds(
  eps: Endpoint[],
  o: RoundOptions,
): Promise<Partial<Record<AnchorName, BulkSeries>>> {
  const out: Partial<Record<AnchorName, BulkSeries>> = {};
  for (const ep of eps) out[ep.name] = { down: [], up: [] };
  for (let r = 0; r < o.rounds; r++) {
    // Odd rounds run the anchors in reverse order, so neither side of an A/B always goes first.
    for (const ep of r % 2 ? [...eps].reverse() : eps) {
      const series = out[ep.name]!;
      for (const dir of ['down', 'up'] as const) {
        try {
          const cpu0 = await cpuMs(Object.values(ep.pids));
          const res =
            dir === 'down'
              ? await bulkDownload(ep, o.bulkBytes, o.netns)
              : await bulkUpload(ep, o.uploadFile, o.bulkBytes, o.netns);
          series[dir][r] = res.mbps;
          const cpuSPerGB = ((await cpuMs(Object.values(ep.pids))) - cpu0) / 1000 / (res.bytes / 1e9);
          (series.cpu ??= { down: [], up: [] })[dir][r] = cpuSPerGB;
          o.log(
            `bulk r${r + 1} ${ep.name} ${dir}: ${res.mbps.toFixed(0)} MB/s, tunnel CPU ${cpuSPerGB.toFixed(2)} s/GB`,
          );
        } catch (err) {
          o.notes.push(
            `bulk ${dir} round ${r + 1} ${ep.name} failed: ${(err as Error).message.slice(0, 300)}`,
          );
        }
      }
    }
  }
  for (const s of Object.values(out)) {
    const down = median(s.down.filter((x): x is number => x !== undefined));
    const up = median(s.up.filter((x): x is number => x !== undefined));
    if (Number.isFinite(down) || Number.isFinite(up)) s.median = { down, up };
    if (s.cpu)
      s.cpuMedian = {
        down: median(s.cpu.down.filter((x) => x !== undefined)),
        up: median(s.cpu.up.filter((x) => x !== undefined)),
      };
  }
  return out;
}
