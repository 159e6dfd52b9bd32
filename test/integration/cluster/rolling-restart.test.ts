/**
 * Issue 14, point 3 (rolling restart): three nodes on one PostgreSQL behind a TCP balancer; sc spreads its three
 * connections over the nodes the created tunnel names. Under a steady load through the balancer, each node in
 * turn gets SIGTERM (it drains: no new tunnel connections or proxy connections, its sc connections told to move,
 * in-flight requests finish), exits 0, and starts again. No request is lost: every one ends in a 200 with its
 * exact body. A client only retries a request whose connection the balancer could not place (every backend
 * refused it) or that closed before any response byte, as any client of a balanced address does.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  cleanup,
  deterministicBytes,
  postgresMissing,
  proxyRequest,
  sha256,
  startBalancer,
  startClient,
  startCluster,
  startHttpApp,
  startPostgres,
  waitFor,
  type Balancer,
  type TestCluster,
} from '../../kit/index.js';

const skip = postgresMissing();
let cluster: TestCluster;
let balancer: Balancer;

before(async () => {
  if (skip) return;
  const server = await startPostgres();
  const store = await server.newDatabase('cluster_rolling');
  cluster = await startCluster(3, { store, args: ['--node-lease', '2s'] });
  balancer = await startBalancer(cluster.nodes.map((n) => n.proxyAddress));
});
after(cleanup);

test('a rolling restart of all three nodes under load loses no request', { skip }, async () => {
  const app = await startHttpApp();
  const client = await startClient(cluster.nodes[1]!, {
    tunnelName: 'rolling',
    args: ['--tunnel-connections', '3'],
  });
  await waitFor(
    'three connections',
    () => cluster.nodes.every((n) => /tunnel connection established/.test(n.logs())) || undefined,
  );
  const auth = { ...cluster.admin, tunnel: 'rolling' };
  const entry = { proxyAddress: balancer.address, proxyPort: balancer.port };

  let stop = false;
  let n = 0;
  let done = 0;
  let retries = 0;
  const lost: string[] = [];
  const one = async (seed: number): Promise<void> => {
    const size = 16 * 1024 + (seed % 5) * 4096;
    const method = seed % 3 === 0 ? 'POST' : 'GET';
    const body = method === 'POST' ? deterministicBytes(size, seed) : undefined;
    for (let attempt = 0; ; attempt++) {
      try {
        const r = await proxyRequest(entry, auth, {
          method,
          url: `http://${app.host}/${method === 'POST' ? 'sha256' : `bytes/${size}?seed=${seed}`}`,
          body,
          agent: false,
        });
        const good =
          r.status === 200 &&
          (method === 'POST'
            ? (JSON.parse(r.body.toString()) as { sha256: string }).sha256 === sha256(body!)
            : sha256(r.body) === sha256(deterministicBytes(size, seed)));
        if (!good) lost.push(`${method} ${seed}: ${r.status} ${String(r.headers['x-sluice-error'] ?? '')}`);
        return;
      } catch (err) {
        // No response at all (the balancer found no backend, or the connection closed before a response):
        // retry on the balanced address. A hang would end here too (the 20 s deadline), but fails below.
        const msg = (err as Error).message;
        if (/timed out|timeout/i.test(msg) || attempt >= 20) {
          lost.push(`${method} ${seed}: ${msg}`);
          return;
        }
        retries++;
      }
    }
  };
  const worker = async (): Promise<void> => {
    while (!stop) {
      await one(++n);
      done++;
    }
  };
  const workers = Array.from({ length: 4 }, () => worker());
  await waitFor('load flowing', () => done >= 20 || undefined);

  for (let i = 0; i < cluster.nodes.length; i++) {
    const before = done;
    const node = cluster.nodes[i]!;
    const restarted = await node.restart();
    assert.ok(restarted.running, `node ${i} is back`);
    cluster.nodes[i] = restarted;
    await waitFor(`load flowing after restarting node ${i}`, () => done >= before + 20 || undefined);
  }
  stop = true;
  await Promise.all(workers);
  console.log(
    `rolling restart: ${done} requests, ${retries} retried on the balanced address, ${lost.length} lost`,
  );
  assert.deepEqual(lost, []);
  assert.ok(client.running, 'sc kept running');
  await client.stop();
});
