/**
 * Issue 13, point 1: the network between sc and the server's edge cut and healed, through a fault-injecting
 * relay (test/kit/faulty-relay.ts). Shorter than --tunnel-grace, the tunnel survives: same id, still running,
 * sc redials by itself and serves. Longer, the server ends the tunnel (client_disconnected), sc is refused when
 * the network comes back and exits with a clear error; a new sc serves the name again. A stalled network (no
 * reset, nothing passes) is found by the keepalives on both sides.
 */
import assert from 'node:assert/strict';
import { afterEach, test } from 'node:test';
import {
  cleanup,
  listTunnelsFull,
  proxyRequest,
  rest,
  sleep,
  startClient,
  startEdgeFront,
  startFaultyRelay,
  startHttpApp,
  startServer,
  throughFront,
  waitFor,
  type TestServer,
} from '../../kit/index.js';

afterEach(cleanup);

const KEEPALIVE = ['--tunnel-keepalive-interval', '500ms', '--tunnel-keepalive-timeout', '1s'];

async function tunnelState(server: TestServer, id: string): Promise<Record<string, unknown> | undefined> {
  return (await listTunnelsFull(server, server.admin)).find((t) => t['id'] === id);
}

async function setup(grace: string) {
  const app = await startHttpApp();
  const server = await startServer({ args: ['--tunnel-grace', grace, ...KEEPALIVE] });
  const relay = await startFaultyRelay(server.edgeAddress);
  const front = await startEdgeFront(server, relay.address);
  const sc = await startClient(throughFront(server, front), { tunnelName: 'net', args: KEEPALIVE });
  const [t] = await listTunnelsFull(server, server.admin);
  assert.ok(t, 'the tunnel is listed');
  const id = t['id'] as string;
  const auth = { ...server.admin, tunnel: 'net' };
  const get = (path: string) => proxyRequest(server, auth, { url: `${app.url}${path}`, timeoutMs: 5000 });
  assert.equal((await get('/before')).status, 200);
  assert.ok(relay.accepted >= 2, 'sc dials the edge through the relay');
  const served = (): Promise<number | undefined> =>
    waitFor(
      'a request through the tunnel to succeed',
      async () => ((await get('/again')).status === 200 ? 1 : undefined),
      30_000,
      () => sc.logs(),
    );
  return { app, server, relay, sc, id, get, served };
}

test('a cut shorter than --tunnel-grace, after the tunnel was up longer than the grace: it survives', async (t) => {
  const { server, relay, sc, id, get, served } = await setup('6s');
  // The tunnel has been connected for longer than the grace before the cut: the grace counts from the
  // disconnection, not from the connection.
  await waitFor(
    'the tunnel to be connected for longer than the grace',
    async () => {
      const st = await tunnelState(server, id);
      return Date.now() / 1000 - Number(st?.['last_connected']) > 7 ? true : undefined;
    },
    30_000,
  );
  relay.drop({ refuse: true });
  const failed = await get('/during');
  assert.equal(failed.status, 503, `during the cut: ${failed.status} ${failed.body.toString()}`);
  assert.equal(failed.headers['x-sluice-error'], 'tunnel_unavailable');
  await waitFor('REST to show the tunnel not ready', async () =>
    (await tunnelState(server, id))?.['is_ready'] === false ? true : undefined,
  );
  await sleep(3000); // the cut itself: half the grace
  assert.equal((await tunnelState(server, id))?.['status'], 'running', 'still running within the grace');
  relay.heal();
  const healed = Date.now();
  await served();
  t.diagnostic(`serving again ${Date.now() - healed} ms after the heal`);
  const st = await tunnelState(server, id);
  assert.equal(st?.['status'], 'running');
  assert.equal(st?.['is_ready'], true);
  assert.ok(sc.running, 'sc rode out the cut');
  await waitFor('sc to reconnect both links', () =>
    (sc.logs().match(/active=2\/2/g) ?? []).length >= 2 ? true : undefined,
  );
});

test('a cut longer than --tunnel-grace ends the tunnel; sc is refused after the heal and exits; a new sc serves', async (t) => {
  const { app, server, relay, sc, id } = await setup('2s');
  relay.drop({ refuse: true });
  const cut = Date.now();
  const ended = await waitFor(
    'the server to end the tunnel after the grace',
    async () => {
      const all = await rest<Record<string, unknown>>(
        server,
        'GET',
        `/${server.admin.username}/tunnels/${id}`,
        server.admin,
      );
      return all.json['status'] !== 'running' ? all.json : undefined;
    },
    20_000,
  );
  assert.equal(ended['shutdown_reason'], 'client_disconnected');
  t.diagnostic(`tunnel ended ${Date.now() - cut} ms after the cut (grace 2 s)`);
  assert.deepEqual(await listTunnelsFull(server, server.admin), [], 'no running tunnel is listed');
  relay.heal();
  const healed = Date.now();
  const exit = await sc.waitExit(30_000);
  t.diagnostic(`sc exited ${Date.now() - healed} ms after the heal`);
  // docs/errors.md: sc exits on 410 tunnel_terminated instead of redialling; the server ended the tunnel, so
  // this is a clean stop (exit 0) with the reason logged.
  assert.equal(exit.code, 0, sc.logs());
  assert.match(sc.logs(), /tunnel stopped by the server.*tunnel_terminated/);
  // A new sc (straight to the edge) takes the name again.
  await startClient(server, { tunnelName: 'net' });
  const r = await proxyRequest(server, { ...server.admin, tunnel: 'net' }, { url: `${app.url}/new` });
  assert.equal(r.status, 200);
});

test('a stalled network (nothing passes, no reset) is found by the keepalives; healed, sc serves again', async (t) => {
  const { server, relay, sc, id, served } = await setup('1m');
  relay.pause();
  const cut = Date.now();
  await waitFor('the server to drop the stalled connections', async () =>
    (await tunnelState(server, id))?.['connections'] === 0 ? true : undefined,
  );
  t.diagnostic(`the server dropped the stalled links ${Date.now() - cut} ms after the stall`);
  await waitFor('sc to notice', () =>
    /lost connection to tunnel server/.test(sc.logs()) ? true : undefined,
  );
  relay.heal();
  const healed = Date.now();
  await served();
  t.diagnostic(`serving again ${Date.now() - healed} ms after the heal`);
  assert.equal((await tunnelState(server, id))?.['status'], 'running');
});

test('a blackholed network (bytes lost) is found by the keepalives; healed, sc serves again', async (t) => {
  const { server, relay, id, served } = await setup('1m');
  relay.blackhole();
  const cut = Date.now();
  await waitFor('the server to drop the connections', async () =>
    (await tunnelState(server, id))?.['connections'] === 0 ? true : undefined,
  );
  t.diagnostic(`the server dropped the blackholed links ${Date.now() - cut} ms after the cut`);
  relay.heal();
  const healed = Date.now();
  await served();
  t.diagnostic(`serving again ${Date.now() - healed} ms after the heal`);
  const st = await tunnelState(server, id);
  assert.equal(st?.['status'], 'running');
  assert.equal(st?.['is_ready'], true);
});
