/**
 * Tunnel pools and replacement with real sc clients: three pool members share new requests; under load, one
 * member killed (SIGKILL) takes no new ones once the server has noticed, one stopped with SIGTERM drains its
 * in-flight requests and exits 0; a second tunnel with the same name replaces the first unless both are pool
 * members, and the replaced client exits cleanly knowing why.
 */
import assert from 'node:assert/strict';
import { afterEach, test } from 'node:test';
import {
  cleanup,
  proxyGet,
  rest,
  type TestClient,
  type TestServer,
  startClient,
  startOrigin,
  startServer,
  waitFor,
} from '../../kit/index.js';

afterEach(cleanup);

type Creds = { username: string; accessKey: string };

interface Shot {
  start: number;
  end: number;
  status: number;
  error: string | undefined;
}

/** `n` loops of sequential GETs through the tunnel until stop() is called. */
function load(s: TestServer, creds: Creds & { tunnel: string }, url: string, n: number) {
  const shots: Shot[] = [];
  let running = true;
  const loops = Array.from({ length: n }, async () => {
    while (running) {
      const start = Date.now();
      try {
        const r = await proxyGet(s, creds, url);
        shots.push({ start, end: Date.now(), status: r.status, error: r.error });
      } catch (err) {
        shots.push({ start, end: Date.now(), status: 0, error: (err as Error).message });
      }
    }
  });
  return {
    shots,
    count: () => shots.length,
    async stop(): Promise<Shot[]> {
      running = false;
      await Promise.all(loops);
      return shots;
    },
  };
}

async function user(s: TestServer, username: string): Promise<Creds> {
  const r = await rest(s, 'POST', '/admin/users', s.admin, { username });
  assert.equal(r.status, 201, r.text);
  return { username: username, accessKey: (r.json as { access_key: string }).access_key };
}

async function tunnelOf(s: TestServer, who: Creds, client: TestClient): Promise<string> {
  const m = /tunnel running id=([0-9a-f]{32})/.exec(client.logs());
  assert.ok(m, client.logs());
  const r = await rest(s, 'GET', `/${who.username}/tunnels/${m[1]}`, who);
  assert.equal(r.status, 200, r.text);
  return m[1]!;
}

const failed = (shots: Shot[]): Shot[] => shots.filter((x) => x.status !== 200);

test('a pool of three shares load; a killed member and a drained member lose no new requests', async (t) => {
  const s = await startServer();
  const origin = await startOrigin('ok', 40);
  const alice = await user(s, 'alice');
  const opts = { ...alice, tunnelName: 'pool', args: ['--tunnel-pool', '--tunnel-connections', '2'] };
  const members = [await startClient(s, opts), await startClient(s, opts), await startClient(s, opts)];
  const [m1, m2, m3] = members as [TestClient, TestClient, TestClient];
  const ids = await Promise.all(members.map((m) => tunnelOf(s, alice, m)));
  assert.equal(new Set(ids).size, 3);
  const listed = (await rest(s, 'GET', '/alice/tunnels', alice)).json as string[];
  assert.deepEqual([...listed].sort(), [...ids].sort(), 'all three members run side by side');
  const onePerPool = (await rest(s, 'GET', '/alice/tunnels?filter=one_per_pool', alice)).json as string[];
  assert.equal(onePerPool.length, 1);

  const gen = load(s, { ...alice, tunnel: 'pool' }, origin.url, 6);
  await waitFor('60 requests', () => gen.count() >= 60 || undefined);
  const served = await Promise.all(members.map((m) => m.served()));
  assert.ok(
    served.every((n) => n > 0),
    `every member takes new requests: ${served.join(', ')}`,
  );

  // SIGKILL: once the server shows the member not ready, every new request goes elsewhere and succeeds.
  const killedAt = Date.now();
  m1.proc.kill('SIGKILL');
  await waitFor('killed member not ready', async () => {
    const r = await rest(s, 'GET', `/alice/tunnels/${ids[0]}`, alice);
    return (r.json as { is_ready: boolean }).is_ready === false || undefined;
  });
  const noticedAt = Date.now();
  const before = gen.count();
  await waitFor('60 more requests', () => gen.count() >= before + 60 || undefined);
  const afterKill = gen.shots.filter((x) => x.start >= noticedAt);
  assert.deepEqual(failed(afterKill), [], 'requests started after the server noticed the death all succeed');
  const lostAtKill = failed(gen.shots.filter((x) => x.start < noticedAt));
  t.diagnostic(
    `kill: ${lostAtKill.length} request(s) in flight on the killed member failed ` +
      `(${lostAtKill.map((x) => `${x.status} ${x.error ?? ''}`).join('; ')}); server noticed after ${noticedAt - killedAt} ms`,
  );

  // SIGTERM: the member drains (in-flight requests finish), deletes its tunnel and exits 0; nothing fails.
  const m3Before = await m3.served();
  const drainStart = Date.now();
  assert.equal((await m2.stop('SIGTERM')).code, 0, m2.logs().slice(-2000));
  const m2Record = (await rest(s, 'GET', `/alice/tunnels/${ids[1]}`, alice)).json as {
    status: string;
    user_shutdown: boolean | null;
  };
  assert.equal(m2Record.status, 'terminated');
  const mark = gen.count();
  await waitFor('60 requests after the drain', () => gen.count() >= mark + 60 || undefined);
  const shots = await gen.stop();
  assert.deepEqual(
    failed(shots.filter((x) => x.start >= noticedAt)),
    [],
    'no request fails while a member drains',
  );
  assert.ok(shots.filter((x) => x.start >= drainStart).length >= 60);
  assert.ok((await m3.served()) > m3Before, 'the remaining member takes the load');
  assert.ok(m3.running);
  const remaining = (await rest(s, 'GET', '/alice/tunnels?full=true', alice)).json as {
    id: string;
    is_ready: boolean;
  }[];
  assert.deepEqual(
    remaining.filter((x) => x.is_ready).map((x) => x.id),
    [ids[2]],
  );
  assert.ok(
    origin.requests.length >= shots.filter((x) => x.status === 200).length,
    'every success reached the origin',
  );
});

test('a tunnel with the same name replaces the older one unless both are pool members', async () => {
  const s = await startServer();
  const origin = await startOrigin('ok');
  const bob = await user(s, 'bob');
  const one = ['--tunnel-connections', '1'];
  const a = await startClient(s, { ...bob, tunnelName: 'ci', args: one });
  const aId = await tunnelOf(s, bob, a);
  const b = await startClient(s, { ...bob, tunnelName: 'ci', args: one });
  const bId = await tunnelOf(s, bob, b);

  // The older client is told why, logs it and exits cleanly.
  assert.equal((await waitFor('replaced client to exit', () => (a.running ? undefined : a.exited))).code, 0);
  assert.match(a.logs(), /replaced/i);
  const aRecord = (await rest(s, 'GET', `/bob/tunnels/${aId}`, bob)).json as {
    status: string;
    shutdown_reason: string;
  };
  assert.equal(aRecord.status, 'terminated');
  assert.equal(aRecord.shutdown_reason, 'replaced');
  assert.equal((await proxyGet(s, { ...bob, tunnel: 'ci' }, origin.url)).status, 200);
  assert.deepEqual((await rest(s, 'GET', '/bob/tunnels', bob)).json, [bId]);

  // A pool member replaces a non-pool tunnel; a second pool member joins it.
  const c = await startClient(s, { ...bob, tunnelName: 'ci', args: ['--tunnel-pool', ...one] });
  assert.equal((await waitFor('b to exit', () => (b.running ? undefined : b.exited))).code, 0);
  const d = await startClient(s, { ...bob, tunnelName: 'ci', args: ['--tunnel-pool', ...one] });
  const cId = await tunnelOf(s, bob, c);
  const dId = await tunnelOf(s, bob, d);
  assert.ok(c.running && d.running);
  assert.deepEqual(((await rest(s, 'GET', '/bob/tunnels', bob)).json as string[]).sort(), [cId, dId].sort());

  // History keeps every tunnel with its shutdown reason.
  const hist = (await rest(s, 'GET', '/bob/all_tunnels?limit=10', bob)).json as {
    tunnels: { id: string; status: string; shutdown_reason: string | null }[];
  };
  const reasons = Object.fromEntries(hist.tunnels.map((x) => [x.id, x.shutdown_reason]));
  assert.deepEqual(reasons, { [aId]: 'replaced', [bId]: 'replaced', [cId]: null, [dId]: null });
});
