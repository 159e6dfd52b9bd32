/**
 * Sluice as a cluster (docs/cluster.md): N sc-server nodes on one PostgreSQL (the test kit's startPostgres: a
 * throwaway cluster on loopback), sc holding all its connections on node 1 (no --node-public-address, so the
 * created tunnel names no nodes and sc dials the node it created the tunnel on), and the load entering the
 * proxy entry of node N:
 *
 *   cluster-1   one node in cluster mode, load on the node with the connections: the direct path, no hop
 *   cluster-2   two nodes, load on node 2: every request crosses the node link 2 -> 1
 *   cluster-3   three nodes, load on node 3: the same hop with a third node in the cluster
 *
 * Compared with `sluice` (one node, embedded store) this gives the cost of cluster mode and of the hop.
 */
import { copyFile, mkdir, readFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { startPostgres } from '../../test/kit/postgres.js';
import { cleanup as kitCleanup } from '../../test/kit/cleanup.js';
import { onCleanup, start, tempDir, waitFor, type Proc } from '../harness/processes.js';
import { LOOPBACK, type Endpoint, type Placement } from './anchor.js';
import { waitUntilServing } from './probe.js';
import {
  nodeFlags,
  proxyAuthorization,
  SERVER_MAIN,
  startSluiceClient,
  type SluiceServer,
} from './sluice.js';

const USER = 'bench';
const SHARED = ['ca.pem', 'ca-key.pem', 'server-secret'];
let pgUrl: Promise<{ newDatabase(p?: string): Promise<string> }> | null = null;

async function startNode(
  store: string,
  accessKey: string,
  shareFrom?: string,
): Promise<SluiceServer & { dir: string }> {
  const dir = join(await tempDir('cluster-node'), 'data');
  if (shareFrom) {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    for (const f of SHARED) await copyFile(join(shareFrom, f), join(dir, f));
  }
  const proc: Proc = start(
    process.execPath,
    [
      ...nodeFlags,
      SERVER_MAIN,
      'start',
      '--data-dir',
      dir,
      '--store',
      store,
      '--node-address',
      `${LOOPBACK}:0`,
      '--rest-address',
      `${LOOPBACK}:0`,
      '--edge-address',
      `${LOOPBACK}:0`,
      '--proxy-address',
      `${LOOPBACK}:0`,
      '--public-host',
      LOOPBACK,
      ...(process.env.SLUICE_BENCH_SERVER_ARGS ?? '').split(' ').filter(Boolean),
    ],
    { env: { ...process.env, SC_ADMIN_USERNAME: USER, SC_ADMIN_ACCESS_KEY: accessKey } },
  );
  const info = await waitFor(
    'cluster node server.json',
    async () => {
      if (proc.child.exitCode !== null) throw new Error('exited');
      return JSON.parse(await readFile(join(dir, 'server.json'), 'utf8')) as SluiceServer['info'];
    },
    30_000,
  ).catch((err: Error) => {
    throw new Error(`sc-server (cluster node): ${err.message}\n${proc.output().slice(-1500)}`);
  });
  return { proc, info, username: USER, accessKey, dir };
}

export async function startSluiceCluster(place: Placement, nodes: 1 | 2 | 3): Promise<Endpoint> {
  if (place.serverNs || place.clientNs) throw new Error('the cluster anchors run on loopback only');
  if (!pgUrl) {
    pgUrl = startPostgres();
    onCleanup(() => kitCleanup());
  }
  const store = await (await pgUrl).newDatabase(`bench_cluster${nodes}`);
  const accessKey = randomBytes(18).toString('hex');
  const first = await startNode(store, accessKey);
  const all = [first];
  for (let i = 1; i < nodes; i++) all.push(await startNode(store, accessKey, first.dir));
  const tunnelName = `bench-cluster-${nodes}`;
  const client = await startSluiceClient(first, tunnelName, place);
  const entry = all[all.length - 1]!;
  const [host, port] = entry.info.proxy_address.split(':');
  const ep = {
    proxy: { host: host!, port: Number(port), authorization: proxyAuthorization(entry, tunnelName) },
    url: `http://${LOOPBACK}:${place.origin.http}`,
  };
  await waitUntilServing(ep).catch((err: Error) => {
    throw new Error(`cluster-${nodes}: ${err.message}\nsc: ${client.proc.output().slice(-1000)}`);
  });
  const pids: Record<string, number> = { sc: client.proc.pid };
  all.forEach((n, i) => (pids[`sc-server-${i + 1}`] = n.proc.pid));
  return {
    name: `cluster-${nodes}`,
    ...ep,
    pids,
    stop: async () => {
      await client.proc.stop();
      for (const n of all.reverse()) await n.proc.stop();
    },
  };
}
