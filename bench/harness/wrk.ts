/**
 * Small-request load with wrk: keep-alive, a fixed number of connections in flight. Through a forward proxy the
 * Lua script sends absolute-form request lines (and Proxy-Authorization); the `done` hook prints one JSON line.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Endpoint } from '../anchors/anchor.js';
import { run } from './processes.js';

export interface SmallResult {
  rps: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
  requests: number;
  /** CPU time of the anchor's own processes per request, microseconds (filled in by the caller). */
  cpuUsPerReq?: number;
}

const lua = (s: string): string => JSON.stringify(s); // a JSON string literal is a valid Lua string literal

export async function wrkSmall(
  ep: Pick<Endpoint, 'proxy' | 'url' | 'hostHeader'>,
  opts: { dir: string; seconds: number; connections: number; threads: number; netns?: string },
): Promise<SmallResult> {
  const target = new URL('/1k', ep.url);
  const script = join(opts.dir, `wrk-${Math.random().toString(36).slice(2)}.lua`);
  await writeFile(
    script,
    [
      `wrk.method = "GET"`,
      `wrk.path = ${lua(ep.proxy ? target.href : target.pathname)}`,
      `wrk.headers["Host"] = ${lua(ep.hostHeader ?? target.host)}`,
      ep.proxy?.authorization ? `wrk.headers["Proxy-Authorization"] = ${lua(ep.proxy.authorization)}` : '',
      `done = function(s, latency, requests)`,
      `  io.write(string.format('WRKJSON {"requests":%d,"us":%d,"connect":%d,"read":%d,"write":%d,"status":%d,` +
        `"timeout":%d,"p50":%d,"p99":%d}\\n', s.requests, s.duration, s.errors.connect, s.errors.read,` +
        ` s.errors.write, s.errors.status, s.errors.timeout, latency:percentile(50), latency:percentile(99)))`,
      `end`,
      '',
    ].join('\n'),
  );
  const connectTo = ep.proxy ? `http://${ep.proxy.host}:${ep.proxy.port}/` : `${target.origin}/`;
  const out = await run(
    'wrk',
    [
      '-t',
      String(opts.threads),
      '-c',
      String(opts.connections),
      '-d',
      `${opts.seconds}s`,
      '--timeout',
      '10s',
      '-s',
      script,
      connectTo,
    ],
    { netns: opts.netns },
  );
  const m = /WRKJSON (\{.*\})/.exec(out);
  if (!m) throw new Error(`wrk printed no result: ${out.slice(-500)}`);
  const r = JSON.parse(m[1]!) as Record<string, number>;
  const errors = r.connect! + r.read! + r.write! + r.status! + r.timeout!;
  return {
    rps: r.requests! / (r.us! / 1e6),
    p50Ms: r.p50! / 1000,
    p99Ms: r.p99! / 1000,
    errors,
    requests: r.requests!,
  };
}
