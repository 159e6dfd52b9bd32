/**
 * `npm run soak`: a bounded soak of sc-server and several sc under a mixed load, with every body checked.
 *
 *   --duration D   how long the load runs (default 5m; CI runs 60s); Go-style durations: 90s, 5m, 1m30s
 *   --workers N    concurrent load loops (default 8)
 *   --json FILE    also write the report as JSON
 *
 * Processes (the test kit's launchers, real processes on 127.0.0.1 port 0): one sc-server; tunnels "soak-a" and
 * "soak-b" (one sc each) and the pool "soak-pool" (two sc with --tunnel-pool). Private side: the kit's HTTP app,
 * its TLS twin and a WebSocket echo. Each worker loops over the mix, over every tunnel in turn:
 *
 *   small    GET /bytes/1K (a seed per request), body hash checked
 *   bulk     GET /bytes/8M, hash checked while streaming
 *   upload   PUT 1 MiB to /sha256, the app's hash of what arrived checked
 *   connect  CONNECT to the TLS app, resigned by the server (the default): TLS inside trusting the resigning CA,
 *            sc verifying the app against the test CA (--cacert-file); GET /bytes/16K, hash checked
 *   ws       a WebSocket through the proxy, three binary messages echoed and compared
 *
 * It reports requests, errors and corrupted bodies per kind, and the RSS of sc-server and of each sc sampled
 * every 5 s, with the slope after the warm-up (the first fifth of the run). Exit 1 when any request failed or
 * any body was corrupted; RSS is reported, not judged.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import http from 'node:http';
import { join } from 'node:path';
import tls from 'node:tls';
import { parseArgs } from 'node:util';
import {
  cleanup,
  connectThroughProxy,
  deterministicBytes,
  proxyRequest,
  sha256,
  startClient,
  startHttpApp,
  startServer,
  startTlsApp,
  startWsEcho,
  streamingGet,
  tempDir,
  testCa,
  wsThroughProxy,
  type ProxyAuth,
  type TestClient,
  type TestServer,
} from '../test/kit/index.js';
import { parseDuration } from '../src/options/duration.js';

const KINDS = ['small', 'bulk', 'upload', 'connect', 'ws'] as const;
type Kind = (typeof KINDS)[number];

interface Tally {
  requests: number;
  errors: number;
  corrupted: number;
  bytes: number;
}

interface Sample {
  t: number;
  server: number;
  sc: number[];
}

const MiB = 1 << 20;
const BULK = 8 * MiB;

function rssOf(pid: number): number {
  try {
    return Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) * 1024;
  } catch {
    return 0;
  }
}

/** Least-squares slope of y over x. */
function slope(points: [number, number][]): number {
  const n = points.length;
  if (n < 2) return 0;
  const mx = points.reduce((a, p) => a + p[0], 0) / n;
  const my = points.reduce((a, p) => a + p[1], 0) / n;
  let num = 0;
  let den = 0;
  for (const [x, y] of points) {
    num += (x - mx) * (y - my);
    den += (x - mx) ** 2;
  }
  return den === 0 ? 0 : num / den;
}

class Corrupted extends Error {}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      duration: { type: 'string', default: '5m' },
      workers: { type: 'string', default: '8' },
      json: { type: 'string' },
    },
  });
  const durationMs = parseDuration(values.duration) ?? NaN;
  const workers = Number(values.workers);
  if (!(durationMs > 0)) throw new Error(`bad --duration "${values.duration}"`);
  if (!Number.isInteger(workers) || workers < 1) throw new Error(`bad --workers "${values.workers}"`);

  const ca = await testCa();
  const app = await startHttpApp();
  const tlsApp = await startTlsApp();
  const ws = await startWsEcho();
  const server: TestServer = await startServer();
  // CONNECTs are resigned (the default): the browser side trusts the server's resigning CA, sc the app's CA.
  const resignCa = readFileSync(server.info.resign_ca_cert, 'utf8');
  const caFile = join(await tempDir('sluice-soak-'), 'test-ca.pem');
  await writeFile(caFile, ca.caPem);
  const trust = ['--cacert-file', caFile];
  const clients: TestClient[] = [
    await startClient(server, { tunnelName: 'soak-a', args: trust }),
    await startClient(server, { tunnelName: 'soak-b', args: trust }),
    await startClient(server, { tunnelName: 'soak-pool', args: ['--tunnel-pool', ...trust] }),
    await startClient(server, { tunnelName: 'soak-pool', args: ['--tunnel-pool', ...trust] }),
  ];
  const tunnels = ['soak-a', 'soak-b', 'soak-pool'];
  const auth = (tunnel: string): ProxyAuth => ({ ...server.admin, tunnel });

  const tally = Object.fromEntries(
    KINDS.map((k) => [k, { requests: 0, errors: 0, corrupted: 0, bytes: 0 }]),
  ) as Record<Kind, Tally>;
  const firstErrors: string[] = [];
  const bulkHash = new Map<number, string>();
  const expectBulk = (seed: number): string => {
    let h = bulkHash.get(seed);
    if (!h) bulkHash.set(seed, (h = sha256(deterministicBytes(BULK, seed))));
    return h;
  };
  const upload = randomBytes(MiB);
  const uploadHash = sha256(upload);

  const ops: Record<Kind, (tunnel: string, seed: number) => Promise<number>> = {
    async small(tunnel, seed) {
      const r = await proxyRequest(server, auth(tunnel), { url: `${app.url}/bytes/1024?seed=${seed}` });
      if (r.status !== 200) throw new Error(`status ${r.status} ${String(r.headers['x-sluice-error'])}`);
      if (sha256(r.body) !== sha256(deterministicBytes(1024, seed))) throw new Corrupted('small body');
      return r.body.length;
    },
    async bulk(tunnel, seed) {
      const s = seed % 4;
      const out = await streamingGet(server, auth(tunnel), `${app.url}/bytes/${BULK}?seed=${s}`).done;
      if (out.status !== 200 || out.error) throw new Error(`status ${out.status} ${out.error ?? ''}`);
      if (!out.complete || out.sha256 !== expectBulk(s))
        throw new Corrupted(`bulk body (${out.bytes} bytes)`);
      return out.bytes;
    },
    async upload(tunnel) {
      const r = await proxyRequest(server, auth(tunnel), {
        method: 'PUT',
        url: `${app.url}/sha256`,
        body: upload,
        timeoutMs: 60_000,
      });
      if (r.status !== 200) throw new Error(`status ${r.status}`);
      const j = JSON.parse(r.body.toString()) as { sha256: string; bytes: number };
      if (j.sha256 !== uploadHash || j.bytes !== upload.length) throw new Corrupted('upload body');
      return upload.length;
    },
    async connect(tunnel, seed) {
      const raw = await connectThroughProxy(server, tlsApp.host, auth(tunnel));
      const body = await new Promise<Buffer>((resolve, reject) => {
        const req = http.request(
          {
            path: `/bytes/16384?seed=${seed}`,
            headers: { host: tlsApp.host, connection: 'close' },
            createConnection: () => tls.connect({ socket: raw, host: '127.0.0.1', ca: resignCa }),
          },
          (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (c: Buffer) => chunks.push(c));
            res.on('end', () => resolve(Buffer.concat(chunks)));
            res.on('error', reject);
          },
        );
        req.setTimeout(30_000, () => req.destroy(new Error('CONNECT request timed out')));
        req.on('error', reject);
        req.end();
      });
      if (sha256(body) !== sha256(deterministicBytes(16384, seed))) throw new Corrupted('CONNECT body');
      return body.length;
    },
    async ws(tunnel) {
      const sock = await wsThroughProxy(server, auth(tunnel), ws.url);
      let n = 0;
      try {
        for (let i = 0; i < 3; i++) {
          const msg = randomBytes(4096 * (i + 1));
          const echo = await new Promise<Buffer>((resolve, reject) => {
            sock.once('message', (d: Buffer) => resolve(d));
            sock.once('error', reject);
            sock.send(msg);
          });
          if (!echo.equals(msg)) throw new Corrupted('WebSocket echo');
          n += msg.length;
        }
      } finally {
        sock.close();
      }
      return n;
    },
  };

  const samples: Sample[] = [];
  const started = Date.now();
  const sample = (): void => {
    samples.push({
      t: (Date.now() - started) / 1000,
      server: rssOf(server.proc.pid!),
      sc: clients.map((c) => rssOf(c.proc.pid!)),
    });
  };
  sample();
  const sampler = setInterval(sample, 5000);
  const deadline = started + durationMs;
  let seq = 0;
  const loop = async (w: number): Promise<void> => {
    let i = w;
    while (Date.now() < deadline) {
      const kind = KINDS[i % KINDS.length]!;
      const tunnel = tunnels[Math.floor(i / KINDS.length) % tunnels.length]!;
      i++;
      const t = tally[kind];
      t.requests++;
      try {
        const n = await ops[kind](tunnel, seq++);
        t.bytes += n; // after the await: `t.bytes += await ...` would lose other workers' updates
      } catch (err) {
        if (err instanceof Corrupted) t.corrupted++;
        else t.errors++;
        if (firstErrors.length < 10) firstErrors.push(`${kind} via ${tunnel}: ${(err as Error).message}`);
      }
    }
  };
  const progress = setInterval(() => {
    const done = KINDS.reduce((a, k) => a + tally[k].requests, 0);
    const last = samples[samples.length - 1]!;
    process.stderr.write(
      `soak ${Math.round((Date.now() - started) / 1000)}s: ${done} requests, ` +
        `sc-server ${(last.server / MiB).toFixed(0)} MiB, sc ${last.sc.map((b) => (b / MiB).toFixed(0)).join('/')} MiB\n`,
    );
  }, 15_000);
  await Promise.all(Array.from({ length: workers }, (_, w) => loop(w)));
  clearInterval(sampler);
  clearInterval(progress);
  sample();
  const elapsed = (Date.now() - started) / 1000;

  const warm = samples.filter((s) => s.t >= elapsed / 5);
  const mibPerMin = (pick: (s: Sample) => number): number =>
    Math.round(slope(warm.map((s) => [s.t / 60, pick(s) / MiB])) * 100) / 100;
  const totals = KINDS.reduce(
    (a, k) => ({
      requests: a.requests + tally[k].requests,
      errors: a.errors + tally[k].errors,
      corrupted: a.corrupted + tally[k].corrupted,
    }),
    { requests: 0, errors: 0, corrupted: 0 },
  );
  const report = {
    duration_s: Math.round(elapsed),
    workers,
    tunnels: { 'soak-a': 1, 'soak-b': 1, 'soak-pool': 2 },
    totals,
    by_kind: tally,
    first_errors: firstErrors,
    rss_mib: {
      server: { start: samples[0]!.server / MiB, end: samples[samples.length - 1]!.server / MiB },
      sc: clients.map((_, i) => ({
        start: samples[0]!.sc[i]! / MiB,
        end: samples[samples.length - 1]!.sc[i]! / MiB,
      })),
    },
    rss_slope_mib_per_min_after_warmup: {
      server: mibPerMin((s) => s.server),
      sc: clients.map((_, i) => mibPerMin((s) => s.sc[i]!)),
    },
    samples: samples.map((s) => ({
      t: Math.round(s.t),
      server_mib: +(s.server / MiB).toFixed(1),
      sc_mib: s.sc.map((b) => +(b / MiB).toFixed(1)),
    })),
  };
  const f = (x: number): string => x.toFixed(1);
  const lines = [
    `soak: ${report.duration_s} s, ${workers} workers, tunnels soak-a, soak-b, soak-pool (2 sc)`,
    `  requests ${totals.requests}, errors ${totals.errors}, corrupted ${totals.corrupted}`,
    ...KINDS.map(
      (k) =>
        `  ${k.padEnd(8)} ${String(tally[k].requests).padStart(7)} requests ${String(tally[k].errors).padStart(4)} errors ` +
        `${String(tally[k].corrupted).padStart(4)} corrupted ${(tally[k].bytes / MiB).toFixed(0).padStart(7)} MiB`,
    ),
    `  RSS sc-server ${f(report.rss_mib.server.start)} -> ${f(report.rss_mib.server.end)} MiB, ` +
      `slope after warm-up ${f(report.rss_slope_mib_per_min_after_warmup.server)} MiB/min`,
    ...report.rss_mib.sc.map(
      (r, i) =>
        `  RSS sc #${i + 1}     ${f(r.start)} -> ${f(r.end)} MiB, slope after warm-up ` +
        `${f(report.rss_slope_mib_per_min_after_warmup.sc[i]!)} MiB/min`,
    ),
    ...firstErrors.map((e) => `  error: ${e}`),
  ];
  process.stdout.write(lines.join('\n') + '\n');
  if (values.json) await writeFile(values.json, JSON.stringify(report, null, 2) + '\n');
  return totals.errors > 0 || totals.corrupted > 0 ? 1 : 0;
}

main()
  .then(
    async (code) => {
      await cleanup();
      process.exit(code);
    },
    async (err: unknown) => {
      process.stderr.write(`soak: ${(err as Error).stack ?? String(err)}\n`);
      await cleanup().catch(() => undefined);
      process.exit(2);
    },
  )
  .catch(() => process.exit(2));
