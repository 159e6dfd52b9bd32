/**
 * Several `sc-server` nodes on one PostgreSQL (docs/cluster.md), all on loopback port 0, and a TCP balancer in
 * front of them. The first node makes the CA and the server secret; the others get copies of those files in their
 * own data dirs before they start (what a mounted Kubernetes Secret does).
 */
import { copyFile, mkdir } from 'node:fs/promises';
import net from 'node:net';
import { join } from 'node:path';
import { onCleanup, tempDir } from './cleanup.js';
import { randomKey, startServer, type TestServer } from './server.js';

/** The files every node of one cluster shares (docs/cluster.md). */
export const SHARED_SECRET_FILES = ['ca.pem', 'ca-key.pem', 'server-secret'] as const;

export interface ClusterNodeOptions {
  /** postgres:// URL of the shared store (a database of its own: `startPostgres().newDatabase()`). */
  store: string;
  /** Extra sc-server flags for every node. */
  args?: string[];
  /** --node-public-address: the node's edge (true, the default) or none (clients use a balancer only). */
  publicEdge?: boolean;
}

export interface TestCluster {
  nodes: TestServer[];
  admin: { username: string; accessKey: string };
  /** Starts one more node that shares the cluster's files (or replaces `nodes[i]` when `replace` is given). */
  addNode(replace?: number): Promise<TestServer>;
}

function nodeArgs(opts: ClusterNodeOptions): string[] {
  return [
    '--store',
    opts.store,
    '--node-address',
    '127.0.0.1:0',
    ...(opts.publicEdge === false ? [] : ['--node-public-address', '127.0.0.1:0']),
    ...(opts.args ?? []),
  ];
}

/** Starts `count` nodes on one store; stopped by cleanup(). */
export async function startCluster(count: number, opts: ClusterNodeOptions): Promise<TestCluster> {
  const adminKey = randomKey();
  const first = await startServer({ adminUser: 'admin', adminKey, args: nodeArgs(opts) });
  const nodes = [first];
  const addNode = async (replace?: number): Promise<TestServer> => {
    const dataDir = join(await tempDir('sluice-node-'), 'data');
    await mkdir(dataDir, { recursive: true, mode: 0o700 });
    for (const f of SHARED_SECRET_FILES) await copyFile(join(first.dataDir, f), join(dataDir, f));
    const node = await startServer({ adminUser: 'admin', adminKey, dataDir, args: nodeArgs(opts) });
    if (replace === undefined) nodes.push(node);
    else nodes[replace] = node;
    return node;
  };
  for (let i = 1; i < count; i++) await addNode();
  return { nodes, admin: { username: 'admin', accessKey: adminKey }, addNode };
}

export interface Balancer {
  /** host:port clients use. */
  address: string;
  port: number;
  /** Backends (host:port) to spread over, in turn; changeable while it runs. */
  backends: string[];
  close(): Promise<void>;
}

/**
 * A TCP balancer on 127.0.0.1 port 0: each connection goes to the next backend in turn; a backend that refuses
 * the connection is skipped (as a balancer's health check would), and the client only sees a refusal when every
 * backend refused.
 */
export async function startBalancer(backends: string[]): Promise<Balancer> {
  let next = 0;
  const state = { backends: [...backends] };
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    sockets.add(client);
    client.once('close', () => sockets.delete(client));
    client.pause();
    client.on('error', () => undefined);
    const list = state.backends;
    const tryFrom = (tries: number): void => {
      if (tries >= list.length || client.destroyed) return void client.destroy();
      const target = list[next++ % list.length]!;
      const i = target.lastIndexOf(':');
      const up = net.connect(Number(target.slice(i + 1)), target.slice(0, i));
      let connected = false;
      up.once('error', () => {
        if (!connected) tryFrom(tries + 1);
        else client.destroy();
      });
      up.once('connect', () => {
        connected = true;
        sockets.add(up);
        up.once('close', () => sockets.delete(up));
        up.on('error', () => client.destroy());
        client.on('error', () => up.destroy());
        client.pipe(up);
        up.pipe(client);
        client.once('close', () => up.destroy());
        up.once('close', () => client.destroy());
        client.resume();
      });
    };
    tryFrom(0);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  const balancer: Balancer = {
    address: `127.0.0.1:${port}`,
    port,
    get backends() {
      return state.backends;
    },
    set backends(b: string[]) {
      state.backends = [...b];
    },
    close: () =>
      new Promise((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
  onCleanup(() => balancer.close());
  return balancer;
}
