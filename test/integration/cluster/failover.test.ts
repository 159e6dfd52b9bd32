/**
 * Issue 14, point 3 (failover): three nodes on one PostgreSQL; sc's one connection is on node A and a steady
 * load enters node C's proxy entry (so every request crosses the node link C -> A). Node A is killed with
 * SIGKILL mid-load. Requests in flight on A fail at once with 502 tunnel_stream_failed (none hangs: each has a
 * deadline), sc redials the next node, the tunnel serves again, every later request gets its exact body, and A's
 * lease expires in the store.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import pg from 'pg';
import {
  cleanup,
  deterministicBytes,
  postgresMissing,
  proxyRequest,
  sha256,
  startClient,
  startCluster,
  startHttpApp,
  startPostgres,
  waitFor,
  type TestCluster,
} from '../../kit/index.js';

const skip = postgresMissing();
let cluster: TestCluster;
let store = '';

before(async () => {
  if (skip) return;
  const server = await startPostgres();
  store = await server.newDatabase('cluster_failover');
  cluster = await startCluster(3, { store, args: ['--node-lease', '2s'] });
});
after(cleanup);

const nodeIdOf = (logs: string): string => /cluster node started node=([0-9a-f-]+)/.exec(logs)![1]!;

async function query<T>(sql: string): Promise<T[]> {
  const c = new pg.Client({ connectionString: store });
  await c.connect();
  try {
    return (await c.query(sql)).rows as T[];
  } finally {
    await c.end();
  }
}

test(
  'SIGKILL of the node holding the connection: fast 502s, then the tunnel serves again',
  { skip },
  async () => {
    const [a, b, c] = [cluster.nodes[0]!, cluster.nodes[1]!, cluster.nodes[2]!];
    const deadId = nodeIdOf(a.logs());
    const app = await startHttpApp();
    const client = await startClient(b, { tunnelName: 'failover', args: ['--tunnel-connections', '1'] });
    await waitFor(
      'the connection on node A',
      () => /tunnel connection established/.test(a.logs()) || undefined,
    );
    const auth = { ...cluster.admin, tunnel: 'failover' };

    type Outcome = { ok: boolean; status: number; error?: string; started: number; at: number };
    const outcomes: Outcome[] = [];
    let stop = false;
    let n = 0;
    const worker = async (): Promise<void> => {
      while (!stop) {
        const seed = ++n;
        const started = Date.now();
        const size = 32 * 1024 + (seed % 7) * 1000;
        // Each request has a deadline (20 s): one that hangs fails the test here.
        const r = await proxyRequest(c, auth, { url: `http://${app.host}/bytes/${size}?seed=${seed}` });
        const error = r.headers['x-sluice-error'] as string | undefined;
        const ok = r.status === 200 && sha256(r.body) === sha256(deterministicBytes(size, seed));
        if (r.status === 200) assert.ok(ok, `request ${seed}: a 200 with a wrong body`);
        outcomes.push({ ok, status: r.status, error, started, at: Date.now() });
      }
    };
    const workers = Array.from({ length: 4 }, () => worker());
    await waitFor('load flowing', () => outcomes.filter((o) => o.ok).length >= 20 || undefined);
    const killedAt = Date.now();
    await a.kill();
    // sc moves its connection to another node, and requests through C succeed again.
    await waitFor('the tunnel serving again after the kill', () =>
      outcomes.some((o) => o.at > killedAt && o.ok) ? true : undefined,
    );
    const recovered = outcomes.find((o) => o.at > killedAt && o.ok)!.at;
    await waitFor(
      'more requests after recovery',
      () => outcomes.filter((o) => o.started > recovered).length >= 20 || undefined,
    );
    stop = true;
    await Promise.all(workers);

    // Every failure is a clear 5xx code of the error table, and only around the kill; everything after is exact.
    const failed = outcomes.filter((o) => !o.ok);
    for (const f of failed) {
      assert.ok(
        (f.status === 502 && f.error === 'tunnel_stream_failed') ||
          (f.status === 503 && f.error === 'tunnel_unavailable'),
        `unexpected failure ${f.status} ${f.error ?? ''}`,
      );
      assert.ok(f.at >= killedAt, 'no failure before the kill');
    }
    // Requests sent once the tunnel served again all succeed (ones sent before may still end in a 502).
    const after = outcomes.filter((o) => o.started > recovered);
    const late = after.filter((o) => !o.ok);
    assert.equal(
      late.length,
      0,
      `sent after recovery and failed: ${late.map((o) => `${o.status} ${o.error ?? ''} +${o.started - recovered} ms`).join(', ')}`,
    );
    console.log(
      `failover: ${failed.length} request(s) failed around the kill; serving again ${recovered - killedAt} ms after it`,
    );

    // sc's log: it lost the connection and established one on another node.
    await waitFor(
      'sc reconnected',
      () => (client.logs().match(/established connection/g)?.length ?? 0) >= 2 || undefined,
    );
    // The dead node's lease is no longer valid (then swept): no live lease names it.
    await waitFor('the dead node lease expired', async () => {
      const live = await query<{ n: string }>(
        `select count(*) as n from cluster_leases where node_id = '${deadId}' and expires_at > ${Date.now()}`,
      );
      return Number(live[0]!.n) === 0 || undefined;
    });
    const leases = await query<{ node_id: string }>(
      `select node_id from cluster_leases where expires_at > ${Date.now()}`,
    );
    assert.equal(leases.length, 1, 'one live lease: the connection on its new node');
    assert.notEqual(leases[0]!.node_id, deadId);
    await client.stop();
  },
);
