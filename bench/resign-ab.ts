/**
 * Resigned HTTPS against passthrough HTTPS through one sc-server (docs/benchmarks.md, "TLS resigning"): the same
 * HTTPS app reached through two tunnels, one resigning (the default) and one with --tls-passthrough-domains '.*',
 * alternating round by round. Small: --connections keep-alive TLS connections inside CONNECT, each looping
 * GET /bytes/1024 for --seconds. Bulk: one GET /bytes/N on a fresh connection. CPU per request (sc-server + sc) from
 * /proc, and the load average, because the machine is shared.
 *
 *   npm run build && node dist/bench/resign-ab.js [--rounds 5] [--seconds 3] [--connections 16] [--bulk-mib 64]
 *
 * Everything runs on 127.0.0.1 (the test kit's processes); the result is printed as one JSON line and a table.
 */
import { loadavg } from 'node:os';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import {
  cleanup,
  startClient,
  startServer,
  startTlsApp,
  tempDir,
  testCa,
  tlsThroughConnect,
  type TlsSession,
} from '../test/kit/index.js';
import { cpuMs } from './harness/cpu.js';
import { median } from './harness/stats.js';

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '5' },
    seconds: { type: 'string', default: '3' },
    connections: { type: 'string', default: '16' },
    'bulk-mib': { type: 'string', default: '64' },
  },
});
const ROUNDS = Number(values.rounds);
const SECONDS = Number(values.seconds);
const CONNECTIONS = Number(values.connections);
const BULK = Number(values['bulk-mib']) * 1024 * 1024;

type Mode = 'resign' | 'passthrough';

async function main(): Promise<void> {
  const app = await startTlsApp();
  const server = await startServer();
  const caFile = join(await tempDir(), 'app-ca.pem');
  const appCa = (await testCa()).caPem;
  await writeFile(caFile, appCa);
  const resignSc = await startClient(server, { tunnelName: 'resign', args: ['--cacert-file', caFile] });
  const passSc = await startClient(server, {
    tunnelName: 'passthrough',
    args: ['--tls-passthrough-domains', '.*'],
  });
  const resignCa = await readFile(
    (server.info as unknown as { resign_ca_cert: string }).resign_ca_cert,
    'utf8',
  );
  const target = `localhost:${app.port}`;
  const sessions = (mode: Mode): Promise<TlsSession> =>
    tlsThroughConnect(
      server,
      { username: server.admin.username, accessKey: server.admin.accessKey, tunnel: mode },
      target,
      mode === 'resign' ? resignCa : appCa,
    );
  const pids = (mode: Mode): number[] => [
    server.proc.pid!,
    (mode === 'resign' ? resignSc : passSc).proc.pid!,
  ];

  const small = async (mode: Mode): Promise<{ rps: number; cpuUsPerReq: number; p50: number }> => {
    const conns = await Promise.all(Array.from({ length: CONNECTIONS }, () => sessions(mode)));
    const cpu0 = await cpuMs(pids(mode));
    const until = Date.now() + SECONDS * 1000;
    const lat: number[] = [];
    await Promise.all(
      conns.map(async (s) => {
        while (Date.now() < until) {
          const t0 = performance.now();
          const r = await s.request('/bytes/1024').catch((err: Error) => {
            throw new Error(`${mode}, after ${lat.length} requests: ${err.message}`);
          });
          if (r.status !== 200 || r.body.length !== 1024) throw new Error(`${mode}: ${r.status} ${r.body}`);
          lat.push(performance.now() - t0);
        }
      }),
    );
    const cpu = (await cpuMs(pids(mode))) - cpu0;
    for (const s of conns) s.close();
    return { rps: lat.length / SECONDS, cpuUsPerReq: (cpu * 1000) / lat.length, p50: median(lat) };
  };

  const bulk = async (mode: Mode): Promise<{ mibps: number; cpuMsPerGiB: number }> => {
    const s = await sessions(mode);
    const cpu0 = await cpuMs(pids(mode));
    const t0 = performance.now();
    const r = await s.request(`/bytes/${BULK}`);
    const secs = (performance.now() - t0) / 1000;
    const cpu = (await cpuMs(pids(mode))) - cpu0;
    s.close();
    if (r.status !== 200 || Buffer.byteLength(r.body, 'latin1') < BULK * 0.5)
      throw new Error(`${mode} bulk: ${r.status}`);
    return { mibps: BULK / 1048576 / secs, cpuMsPerGiB: cpu / (BULK / 1073741824) };
  };

  const out: Record<
    Mode,
    { small: Awaited<ReturnType<typeof small>>[]; bulk: Awaited<ReturnType<typeof bulk>>[] }
  > = { resign: { small: [], bulk: [] }, passthrough: { small: [], bulk: [] } };
  const load: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const order: Mode[] = r % 2 ? ['passthrough', 'resign'] : ['resign', 'passthrough'];
    for (const m of order) out[m].small.push(await small(m));
    for (const m of order) out[m].bulk.push(await bulk(m));
    load.push(loadavg()[0]!);
    // Each round as it ends (stderr), so a run cut short still shows what it measured.
    console.error(
      JSON.stringify({
        round: r + 1,
        load: load.at(-1),
        resign: { small: out.resign.small.at(-1), bulk: out.resign.bulk.at(-1) },
        passthrough: { small: out.passthrough.small.at(-1), bulk: out.passthrough.bulk.at(-1) },
      }),
    );
  }
  const summary = Object.fromEntries(
    (['resign', 'passthrough'] as const).map((m) => [
      m,
      {
        small_rps: Math.round(median(out[m].small.map((x) => x.rps))),
        small_p50_ms: Number(median(out[m].small.map((x) => x.p50)).toFixed(2)),
        small_cpu_us_per_req: Math.round(median(out[m].small.map((x) => x.cpuUsPerReq))),
        bulk_mib_s: Math.round(median(out[m].bulk.map((x) => x.mibps))),
        bulk_cpu_ms_per_gib: Math.round(median(out[m].bulk.map((x) => x.cpuMsPerGiB))),
      },
    ]),
  );
  const result = {
    rounds: ROUNDS,
    seconds: SECONDS,
    connections: CONNECTIONS,
    bulk_mib: BULK / 1048576,
    loadavg_1m: load.map((l) => Number(l.toFixed(2))),
    ...summary,
  };
  console.log(JSON.stringify(result));
}

main()
  .then(cleanup)
  .catch(async (err: unknown) => {
    console.error(err);
    await cleanup();
    process.exit(1);
  });
