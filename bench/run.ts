/**
 * `npm run bench`: runs every workload against the anchors and Sluice in one run, alternating, and writes
 * bench/results/latest.json, docs/benchmarks.md and docs/bench/comparison.svg from it.
 *
 *   --quick              short run for day-to-day use (< 2 min); results go to .bench-work/, docs untouched
 *   --only a,b           workloads: small, connect, bulk, streams, ready, failover, rtt, console (results go to
 *                        .bench-work/)
 *   --anchors a,b        anchors: direct, squid, ssh, localtunnel, tlspipe, sluice (default all; with
 *                        SLUICE_BENCH_DIST_B=<dir> also sluice-b, that build, alternating with sluice)
 *   --rounds N           rounds of the alternating workloads (default 5; quick 1)
 *   --render             only re-render the docs from bench/results/latest.json
 *   --write-docs         write docs and latest.json even for a --quick or --only run
 *   --rtt-delay-ms N     delay on each end of the RTT link (default 10, so 20 ms RTT; 0 checks the
 *                        namespace set-up on kernels without netem)
 *   --profile            also profile sc and sc-server (--cpu-prof) under small and bulk load
 *
 * It never fails CI: a broken anchor or workload becomes a note in the report, and the exit code is 0 unless the
 * harness itself cannot start.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { cpus, loadavg, release, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import {
  ANCHORS,
  CLUSTER_ANCHORS,
  LOOPBACK,
  type AnchorName,
  type Endpoint,
  type Placement,
} from './anchors/anchor.js';
import { startSluiceCluster } from './anchors/cluster.js';
import { startDirect } from './anchors/direct.js';
import { startLocaltunnel } from './anchors/localtunnel.js';
import { DIST_B, startSluice } from './anchors/sluice.js';
import { startSquid } from './anchors/squid.js';
import { startSsh } from './anchors/ssh.js';
import { startTlsPipe } from './anchors/tls-pipe.js';
import { sparseFile } from './harness/curl-bulk.js';
import { createLink, delayMethod } from './harness/netns.js';
import { cleanupAll, start, tempDir, waitFor } from './harness/processes.js';
import { renderChart } from './report/chart.js';
import { renderMarkdown } from './report/markdown.js';
import type { Results } from './report/results.js';
import { readyWorkload } from './workloads/ready.js';
import { bulkRounds, smallRounds, type RoundOptions } from './workloads/rounds.js';
import { failoverWorkload } from './workloads/failover.js';
import { profileWorkload } from './workloads/profile.js';
import { streamsWorkload } from './workloads/streams.js';
import { consoleWorkload } from './workloads/console.js';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const WORKLOADS = ['small', 'connect', 'bulk', 'streams', 'ready', 'failover', 'rtt', 'console'] as const;
type Workload = (typeof WORKLOADS)[number];
const GiB = 1024 ** 3;
const MiB = 1024 ** 2;

const starters: Record<AnchorName, (p: Placement) => Promise<Endpoint>> = {
  direct: startDirect,
  squid: startSquid,
  ssh: startSsh,
  localtunnel: startLocaltunnel,
  tlspipe: startTlsPipe,
  sluice: (p) => startSluice(p),
  'sluice-b': (p) => startSluice(p, DIST_B),
  'cluster-1': (p) => startSluiceCluster(p, 1),
  'cluster-2': (p) => startSluiceCluster(p, 2),
  'cluster-3': (p) => startSluiceCluster(p, 3),
};

function list<T extends string>(value: string | undefined, allowed: readonly T[], flag: string): T[] {
  if (!value) return [...allowed];
  const items = value.split(',').map((s) => s.trim());
  for (const i of items) {
    if (!(allowed as readonly string[]).includes(i))
      throw new Error(`${flag}: "${i}" is not one of ${allowed.join(', ')}`);
  }
  return items as T[];
}

function log(line: string): void {
  process.stdout.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${line}\n`);
}

function machineLine(): string {
  const c = cpus();
  return `${c.length} x ${c[0]?.model.trim() ?? 'unknown CPU'}, ${(totalmem() / GiB).toFixed(0)} GiB RAM, Linux ${release()}`;
}

function git(args: string[]): string {
  try {
    return execFileSync('git', args, { cwd: repo, encoding: 'utf8' }).trim();
  } catch {
    return 'unknown';
  }
}

async function startOrigin(netns?: string, host = LOOPBACK): Promise<{ http: number; echo: number }> {
  const p = start(process.execPath, [join(repo, 'dist/bench/origin-server.js'), '--host', host], { netns });
  return waitFor('origin', async () => {
    const line = p.output().split('\n')[0];
    return line && line.startsWith('{') ? (JSON.parse(line) as { http: number; echo: number }) : undefined;
  });
}

async function startAnchors(names: AnchorName[], place: Placement, notes: string[], where: string) {
  const eps: Endpoint[] = [];
  for (const name of names) {
    try {
      eps.push(await starters[name](place));
      log(`${where}: ${name} up`);
    } catch (err) {
      notes.push(
        `${where}: ${name} could not start: ${(err as Error).message.split('\n').slice(0, 4).join(' | ')}`,
      );
      log(`${where}: ${name} could not start (see notes)`);
    }
  }
  return eps;
}

async function ensureTools(): Promise<void> {
  const need = ['wrk', 'squid', 'ssh', 'curl', 'tc', 'python3'].filter(
    (t) => !['/usr/bin', '/usr/sbin', '/bin', '/sbin'].some((d) => existsSync(join(d, t))),
  );
  if (need.length === 0 && existsSync('/usr/sbin/sshd')) return;
  log(`installing ${need.join(' ') || 'openssh-server'} with scripts/setup-debian.sh --bench`);
  execFileSync('bash', [join(repo, 'scripts/setup-debian.sh'), '--bench'], { stdio: 'inherit' });
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      only: { type: 'string' },
      anchors: { type: 'string' },
      rounds: { type: 'string' },
      render: { type: 'boolean', default: false },
      'write-docs': { type: 'boolean', default: false },
      profile: { type: 'boolean', default: false },
      'rtt-delay-ms': { type: 'string', default: '10' },
    },
  });
  const latest = join(repo, 'bench/results/latest.json');
  if (values.render) {
    await writeDocs(JSON.parse(await readFile(latest, 'utf8')) as Results);
    return;
  }
  const quick = values.quick;
  const only = list(values.only, WORKLOADS, '--only');
  const anchors = values.anchors
    ? list(values.anchors, [...ANCHORS, ...CLUSTER_ANCHORS], '--anchors')
    : [...ANCHORS];
  // SLUICE_BENCH_DIST_B: the second build runs beside `sluice`, alternating with it (bench/README.md).
  if (DIST_B && anchors.includes('sluice')) anchors.splice(anchors.indexOf('sluice') + 1, 0, 'sluice-b');
  const rounds = values.rounds ? Number(values.rounds) : quick ? 1 : 5;
  const cfg = {
    smallSeconds: quick ? 2 : 5,
    connections: 64,
    bulkBytes: quick ? 128 * MiB : GiB,
    streams: quick ? 1000 : 10_000,
    readyRuns: quick ? 5 : 20,
    rttBulkBytes: quick ? 64 * MiB : 512 * MiB,
  };
  await ensureTools();
  const started = Date.now();
  const notes: string[] = [];
  const results: Results = {
    meta: {
      date: new Date().toISOString(),
      commit:
        git(['rev-parse', '--short', 'HEAD']) +
        (git(['status', '--porcelain', 'src']) ? ' (+ uncommitted src)' : ''),
      machine: machineLine(),
      node: process.version,
      quick,
      rounds,
      durationS: 0,
      loadavgBefore: loadavg().map((x) => Math.round(x * 100) / 100),
    },
    config: {
      smallSeconds: cfg.smallSeconds,
      connections: cfg.connections,
      bulkBytes: cfg.bulkBytes,
      streams: cfg.streams,
      readyRuns: cfg.readyRuns,
    },
    small: {},
    bulk: {},
    notes,
  };
  const dir = await tempDir('run');
  const origin = await startOrigin();
  const place: Placement = { serverAddr: LOOPBACK, originAddrFromServer: LOOPBACK, origin };
  const want = (w: Workload): boolean => only.includes(w);

  if (want('small') || want('connect') || want('bulk')) {
    const eps = await startAnchors(anchors, place, notes, 'loopback');
    const uploadFile = await sparseFile(dir, cfg.bulkBytes);
    const ro: RoundOptions = { rounds, dir, ...cfg, uploadFile, log, notes };
    if (want('small')) results.small = await smallRounds(eps, ro);
    if (want('connect')) results.connect = await smallRounds(eps, ro, 'connect');
    if (want('bulk')) results.bulk = await bulkRounds(eps, ro);
    for (const ep of eps) await ep.stop();
  }
  if (want('streams') && anchors.includes('sluice')) {
    results.streams = await streamsWorkload(place, cfg.streams, log).catch((err: Error) => {
      notes.push(`streams failed: ${err.message.slice(0, 400)}`);
      return undefined;
    });
  }
  if (want('ready') && anchors.includes('sluice')) {
    results.ready = await readyWorkload(place, cfg.readyRuns, log).catch((err: Error) => {
      notes.push(`ready failed: ${err.message.slice(0, 400)}`);
      return undefined;
    });
  }
  if (want('failover') && anchors.includes('sluice')) {
    try {
      results.failover = await failoverWorkload(place, log);
    } catch (err) {
      const msg = (err as Error).message.split('\n').slice(0, 3).join(' | ').slice(0, 300);
      results.failover = {
        note: `not measured: two \`sc run --tunnel-pool\` members did not come up (${msg})`,
      };
    }
  }
  if (want('console') && anchors.includes('sluice')) {
    results.console = await consoleWorkload(place, quick ? 2 : 5, log).catch((err: Error) => {
      notes.push(`console failed: ${err.message.slice(0, 400)}`);
      return undefined;
    });
  }
  const delay = Number(values['rtt-delay-ms']);
  const method = want('rtt') && delay > 0 ? await delayMethod() : 'netem';
  if (want('rtt') && !method) {
    notes.push(
      'rtt not measured: this kernel has no netem qdisc (CONFIG_NET_SCH_NETEM is not set) and there is no ' +
        '/dev/net/tun with python3 for the userspace delay line (bench/harness/delayline.py).',
    );
  } else if (want('rtt')) {
    try {
      const link = await createLink(delay, method);
      if (method === 'delayline')
        log(`rtt: no netem in this kernel; ${2 * delay} ms RTT from the TUN delay line`);
      const rttOrigin = await startOrigin(link.clientNs, '0.0.0.0');
      const rttPlace: Placement = {
        clientNs: link.clientNs,
        serverNs: link.serverNs,
        serverAddr: link.serverAddr,
        originAddrFromServer: link.clientAddr,
        origin: rttOrigin,
      };
      const rttAnchors = anchors.filter((a) => a === 'direct' || a === 'ssh' || a === 'sluice');
      const eps = await startAnchors(rttAnchors, rttPlace, notes, 'rtt');
      const uploadFile = await sparseFile(dir, cfg.rttBulkBytes);
      const ro: RoundOptions = {
        rounds,
        dir,
        ...cfg,
        bulkBytes: cfg.rttBulkBytes,
        uploadFile,
        netns: link.serverNs,
        log,
        notes,
      };
      const small = await smallRounds(eps, ro);
      const bulk = await bulkRounds(eps, ro);
      results.rtt = { rttMs: 2 * delay, method, bulkBytes: cfg.rttBulkBytes, small, bulk };
      for (const ep of eps) await ep.stop();
    } catch (err) {
      notes.push(`rtt failed: ${(err as Error).message.slice(0, 400)}`);
    }
  }
  if (values.profile && anchors.includes('sluice')) {
    const keepDir = join(repo, '.bench-work/profiles');
    results.profile = await profileWorkload(
      place,
      { seconds: cfg.smallSeconds, bulkBytes: cfg.bulkBytes, keepDir },
      log,
    ).catch((err: Error) => {
      notes.push(`profile failed: ${err.message.slice(0, 400)}`);
      return undefined;
    });
  }
  results.meta.durationS = Math.round((Date.now() - started) / 1000);
  const full = !quick && !values.only && !values.anchors;
  const out = full || values['write-docs'] ? latest : join(repo, '.bench-work/results.json');
  await mkdir(dirname(out), { recursive: true });
  await writeFile(out, `${JSON.stringify(results, null, 2)}\n`);
  log(`results in ${out} (${results.meta.durationS} s)`);
  if (out === latest) await writeDocs(results);
  for (const n of notes) log(`note: ${n}`);
}

async function writeDocs(results: Results): Promise<void> {
  await mkdir(join(repo, 'docs/bench'), { recursive: true });
  await writeFile(join(repo, 'docs/bench/comparison.svg'), renderChart(results));
  await writeFile(
    join(repo, 'docs/benchmarks.md'),
    renderMarkdown(results, await readFile(join(repo, 'bench/analysis.md'), 'utf8').catch(() => '')),
  );
  log('wrote docs/benchmarks.md and docs/bench/comparison.svg');
}

let stopping = false;
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => {
    if (stopping) process.exit(1);
    stopping = true;
    log(`${sig}: cleaning up`);
    void cleanupAll().then(() => process.exit(130));
  });
}
try {
  await main();
} catch (err) {
  process.stderr.write(`bench: ${(err as Error).stack ?? String(err)}\n`);
  process.exitCode = 1;
} finally {
  await cleanupAll();
}
