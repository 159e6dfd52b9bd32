import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { start, tempDir, waitFor, type Proc } from '../harness/processes.js';
import { LOOPBACK, type Endpoint, type Placement } from './anchor.js';
import { waitUntilServing } from './probe.js';

const repo = join(fileURLToPath(new URL('.', import.meta.url)), '..', '..', '..');
/**
 * The build under test: dist/ of this checkout, or SLUICE_BENCH_DIST=<dir with src/> to A/B another build (e.g.
 * a patched copy under .bench-work/, where package imports still resolve from this checkout's node_modules).
 */
const dist = process.env.SLUICE_BENCH_DIST ?? join(repo, 'dist');
export const SERVER_MAIN = join(dist, 'src/server/cli/main.js');
export const CLIENT_MAIN = join(dist, 'src/client/cli/main.js');
/**
 * SLUICE_BENCH_DIST_B=<dir>: a second build, run as the anchor `sluice-b` beside `sluice` in the same run, so
 * the two alternate round by round (an A/B on a noisy machine).
 */
export const DIST_B = process.env.SLUICE_BENCH_DIST_B;
const mainsOf = (d: string | undefined) =>
  d
    ? { server: join(d, 'src/server/cli/main.js'), client: join(d, 'src/client/cli/main.js') }
    : { server: SERVER_MAIN, client: CLIENT_MAIN };
const USER = 'bench';

/**
 * The bench's CONNECT workloads carry plain HTTP or raw bytes inside CONNECT (no TLS), and mean the raw pipe: on
 * builds that resign TLS by default (docs/decisions/0016-tls-resigning.md) they say --tls-passthrough-domains.
 * Older builds (A/B runs) have no resigning and refuse the flag, so it is passed only where it exists.
 */
const passthroughArgs = (d: string | undefined): string[] =>
  existsSync(join(dirname(dirname(dirname(mainsOf(d).client))), 'server/proxy/resign.js'))
    ? ['--tls-passthrough-domains', '.*']
    : [];

/**
 * Extra node flags for sc and sc-server, e.g. `--cpu-prof --cpu-prof-dir=DIR` when profiling (set by
 * `npm run bench -- --profile`; SLUICE_BENCH_NODE_FLAGS="..." to A/B V8 settings). Kept as a module setting so
 * the workloads need not thread it through.
 */
export const nodeFlags: string[] = (process.env.SLUICE_BENCH_NODE_FLAGS ?? '').split(' ').filter(Boolean);

export interface SluiceServer {
  proc: Proc;
  info: { rest_url: string; proxy_address: string; edge_address: string; ca_cert: string };
  username: string;
  accessKey: string;
}

/** sc-server on its own data dir, with the admin account from env; resolves once server.json exists. */
export async function startSluiceServer(place: Placement, distDir?: string): Promise<SluiceServer> {
  const dir = await tempDir('sc-server');
  const accessKey = randomBytes(18).toString('hex');
  const bind = place.serverNs ? place.serverAddr : LOOPBACK;
  const proc = start(
    process.execPath,
    [
      ...nodeFlags,
      mainsOf(distDir).server,
      'start',
      '--data-dir',
      join(dir, 'data'),
      '--rest-address',
      `${bind}:0`,
      '--edge-address',
      `${bind}:0`,
      // Browsers and the load generator sit next to the server: the proxy entry stays on loopback.
      '--proxy-address',
      `${LOOPBACK}:0`,
      '--public-host',
      bind,
      // SLUICE_BENCH_SERVER_ARGS="--proxy-splice false" to A/B a server setting.
      ...(process.env.SLUICE_BENCH_SERVER_ARGS ?? '').split(' ').filter(Boolean),
    ],
    {
      netns: place.serverNs,
      env: { ...process.env, SC_ADMIN_USERNAME: USER, SC_ADMIN_ACCESS_KEY: accessKey },
    },
  );
  const info = await waitFor(
    'sc-server server.json',
    async () => {
      if (proc.child.exitCode !== null) throw new Error('exited');
      return JSON.parse(await readFile(join(dir, 'data', 'server.json'), 'utf8')) as SluiceServer['info'];
    },
    30_000,
  ).catch((err: Error) => {
    throw new Error(`sc-server: ${err.message}\n${proc.output().slice(-1500)}`);
  });
  return { proc, info, username: USER, accessKey };
}

export interface SluiceClient {
  proc: Proc;
  apiPort: number;
}

/** `sc run` against `server`; resolves when its local API listens (not yet when it is ready). */
export async function startSluiceClient(
  server: SluiceServer,
  tunnelName: string,
  place: Pick<Placement, 'clientNs'>,
  extra: string[] = [],
  distDir?: string,
): Promise<SluiceClient> {
  const proc = start(
    process.execPath,
    [
      ...nodeFlags,
      mainsOf(distDir).client,
      'run',
      '--username',
      server.username,
      '--access-key',
      server.accessKey,
      '--region',
      'us-west',
      '--tunnel-name',
      tunnelName,
      '--rest-url',
      server.info.rest_url,
      '--cacert-file',
      server.info.ca_cert,
      '--proxy-localhost',
      'allow',
      '--api-address',
      `${LOOPBACK}:0`,
      ...passthroughArgs(distDir),
      ...extra,
      // SLUICE_BENCH_CLIENT_ARGS="--tunnel-connections 2" to A/B an sc setting.
      ...(process.env.SLUICE_BENCH_CLIENT_ARGS ?? '').split(' ').filter(Boolean),
    ],
    { netns: place.clientNs },
  );
  const apiPort = await waitFor(
    'sc local API',
    async () => {
      if (proc.child.exitCode !== null) throw new Error('exited');
      const m = /API server listening address=[\d.]+:(\d+)/.exec(proc.output());
      return m ? Number(m[1]) : undefined;
    },
    30_000,
    5, // short: time-to-ready is measured through this
  ).catch((err: Error) => {
    throw new Error(`sc run: ${err.message}\n${proc.output().slice(-1500)}`);
  });
  return { proc, apiPort };
}

export function proxyAuthorization(server: SluiceServer, tunnelName: string): string {
  return `Basic ${Buffer.from(`${server.username};tunnel=${tunnelName}:${server.accessKey}`).toString('base64')}`;
}

/** The full path: proxy entry, tunnel with TLS, sc, origin. */
export async function startSluice(place: Placement, distDir?: string): Promise<Endpoint> {
  const server = await startSluiceServer(place, distDir);
  const tunnelName = 'bench';
  const client = await startSluiceClient(server, tunnelName, place, [], distDir);
  const [host, port] = server.info.proxy_address.split(':');
  const ep = {
    proxy: { host: host!, port: Number(port), authorization: proxyAuthorization(server, tunnelName) },
    url: `http://${LOOPBACK}:${place.origin.http}`,
  };
  await waitUntilServing(ep, place.serverNs).catch((err: Error) => {
    throw new Error(`sluice: ${err.message}\nsc: ${client.proc.output().slice(-1000)}`);
  });
  return {
    name: distDir ? 'sluice-b' : 'sluice',
    ...ep,
    pids: { sc: client.proc.pid, 'sc-server': server.proc.pid },
    stop: async () => {
      await client.proc.stop();
      await server.proc.stop();
    },
  };
}
