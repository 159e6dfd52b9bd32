/**
 * Issue 13, point 1: SIGKILL of sc and of sc-server mid-transfer, a server restart on the same data dir, and a
 * frozen server (SIGSTOP). What the browser gets, that a new sc / the restarted server recovers, and that the
 * tunnel's state in REST matches reality afterwards (a tunnel whose sc is gone is not shown running for ever).
 */
import assert from 'node:assert/strict';
import { afterEach, test } from 'node:test';
import {
  cleanup,
  listTunnels,
  listTunnelsFull,
  proxyRequest,
  rest,
  startClient,
  startHttpApp,
  startServer,
  streamingGet,
  waitFor,
  type TestServer,
} from '../../kit/index.js';

afterEach(cleanup);

const KEEPALIVE = ['--tunnel-keepalive-interval', '500ms', '--tunnel-keepalive-timeout', '1s'];
const BIG = 512 * 1024 * 1024;

async function tunnel(server: TestServer, id: string): Promise<Record<string, unknown>> {
  const r = await rest<Record<string, unknown>>(
    server,
    'GET',
    `/${server.admin.username}/tunnels/${id}`,
    server.admin,
  );
  assert.equal(r.status, 200, r.text);
  return r.json;
}

/** Starts a large download, holds it mid-transfer (the reader paused, flow control holding the rest). */
async function midTransfer(server: TestServer, tunnelName: string, appUrl: string) {
  const dl = streamingGet(server, { ...server.admin, tunnel: tunnelName }, `${appUrl}/bytes/${BIG}`);
  const res = await dl.response;
  assert.equal(res.statusCode, 200);
  await waitFor('the first MiB to arrive', () => (dl.received > 1 << 20 ? true : undefined));
  dl.pause();
  return dl;
}

test('SIGKILL of sc mid-transfer: the browser gets a cut body, REST ends the tunnel after the grace, a new sc serves', async (t) => {
  const app = await startHttpApp();
  const server = await startServer({ args: ['--tunnel-grace', '2s', ...KEEPALIVE] });
  const sc = await startClient(server, { tunnelName: 'victim', args: KEEPALIVE });
  const [id] = await listTunnels(server, server.admin);
  assert.ok(id);
  const dl = await midTransfer(server, 'victim', app.url);
  await sc.kill();
  const killed = Date.now();
  dl.resume();
  const out = await dl.done;
  assert.equal(out.complete, false, 'the cut body is not presented as complete');
  assert.ok(out.bytes < BIG, `received ${out.bytes} of ${BIG}`);
  // At once: not ready, no connection; after the grace: ended, no longer listed as running.
  const now = await tunnel(server, id);
  assert.equal(now['is_ready'], false);
  assert.equal(now['connections'], 0);
  const ended = await waitFor('the tunnel to end', async () => {
    const t = await tunnel(server, id);
    return t['status'] !== 'running' ? t : undefined;
  });
  assert.equal(ended['shutdown_reason'], 'client_disconnected');
  t.diagnostic(`tunnel ended ${Date.now() - killed} ms after the SIGKILL (grace 2 s)`);
  assert.deepEqual(await listTunnels(server, server.admin), []);
  const fail = await proxyRequest(server, { ...server.admin, tunnel: 'victim' }, { url: `${app.url}/x` });
  assert.equal(fail.headers['x-sluice-error'], 'tunnel_not_found', `status ${fail.status}`);

  await startClient(server, { tunnelName: 'victim' });
  const ok = await proxyRequest(server, { ...server.admin, tunnel: 'victim' }, { url: `${app.url}/x` });
  assert.equal(ok.status, 200);
});

test('a new sc with the same name replaces a killed one at once (no wait for the grace)', async () => {
  const app = await startHttpApp();
  const server = await startServer({ args: KEEPALIVE });
  const sc = await startClient(server, { tunnelName: 'again', args: KEEPALIVE });
  const [old] = await listTunnels(server, server.admin);
  await sc.kill();
  await startClient(server, { tunnelName: 'again' });
  const running = await listTunnels(server, server.admin);
  assert.equal(running.length, 1);
  assert.notEqual(running[0], old);
  assert.equal((await tunnel(server, old!))['status'], 'terminated');
  const ok = await proxyRequest(server, { ...server.admin, tunnel: 'again' }, { url: `${app.url}/x` });
  assert.equal(ok.status, 200);
});

test('SIGKILL of sc-server mid-transfer: the browser gets a reset; restarted on the same data dir, sc reconnects and serves', async (t) => {
  const app = await startHttpApp();
  const server = await startServer({ args: KEEPALIVE });
  const sc = await startClient(server, { tunnelName: 'phoenix', args: KEEPALIVE });
  const [id] = await listTunnels(server, server.admin);
  const dl = await midTransfer(server, 'phoenix', app.url);
  await server.kill();
  dl.resume();
  const out = await dl.done;
  assert.equal(out.complete, false);
  assert.ok(out.error, 'the browser sees the connection fail');
  await sc.waitForLog(/lost connection to tunnel server/);
  assert.ok(sc.running, 'sc keeps redialling while the server is down');

  const restarting = Date.now();
  const again = await startServer({
    dataDir: server.dataDir,
    adminUser: server.admin.username,
    adminKey: server.admin.accessKey,
    args: KEEPALIVE,
    restAddress: new URL(server.restUrl).host,
    proxyAddress: server.proxyAddress,
    edgeAddress: server.edgeAddress,
  });
  await waitFor(
    'a request through the restarted server',
    async () => {
      const r = await proxyRequest(
        again,
        { ...again.admin, tunnel: 'phoenix' },
        { url: `${app.url}/after`, timeoutMs: 5000 },
      );
      return r.status === 200 ? true : undefined;
    },
    30_000,
    () => sc.logs(),
  );
  t.diagnostic(`serving again ${Date.now() - restarting} ms after the restart began`);
  assert.deepEqual(await listTunnels(again, again.admin), [id], 'the same tunnel, still running');
  const st = await tunnel(again, id!);
  assert.equal(st['is_ready'], true);
  // The whole body goes through now.
  const full = streamingGet(again, { ...again.admin, tunnel: 'phoenix' }, `${app.url}/bytes/${8 << 20}`);
  const o = await full.done;
  assert.equal(o.complete, true);
});

test('server restart while sc is gone: the tunnel is not shown running for ever (ended after the grace)', async () => {
  const server = await startServer({ args: ['--tunnel-grace', '3s'] });
  const sc = await startClient(server, { tunnelName: 'orphan' });
  const [id] = await listTunnels(server, server.admin);
  await server.kill();
  await sc.kill();
  const again = await startServer({
    dataDir: server.dataDir,
    adminUser: server.admin.username,
    adminKey: server.admin.accessKey,
    args: ['--tunnel-grace', '3s'],
  });
  const first = (await listTunnelsFull(again, again.admin)).find((t) => t['id'] === id);
  assert.ok(first, 'right after the restart the tunnel is still within its grace');
  assert.equal(first['is_ready'], false, 'but not ready: no connection');
  const ended = await waitFor('the orphan tunnel to end', async () => {
    const t = await tunnel(again, id!);
    return t['status'] !== 'running' ? t : undefined;
  });
  assert.equal(ended['shutdown_reason'], 'client_disconnected');
  assert.deepEqual(await listTunnels(again, again.admin), []);
});

test('a frozen sc-server (SIGSTOP): sc notices and keeps redialling; thawed, traffic flows again', async (t) => {
  const app = await startHttpApp();
  const server = await startServer({ args: KEEPALIVE });
  const sc = await startClient(server, { tunnelName: 'ice', args: KEEPALIVE });
  const [id] = await listTunnels(server, server.admin);
  process.kill(server.proc.pid!, 'SIGSTOP');
  const frozen = Date.now();
  t.after(() => {
    try {
      process.kill(server.proc.pid!, 'SIGCONT');
    } catch {
      // gone
    }
  });
  await sc.waitForLog(/lost connection to tunnel server/);
  t.diagnostic(`sc noticed the frozen server ${Date.now() - frozen} ms after SIGSTOP`);
  assert.ok(sc.running);
  process.kill(server.proc.pid!, 'SIGCONT');
  const thawed = Date.now();
  await waitFor(
    'a request after the thaw',
    async () => {
      const r = await proxyRequest(
        server,
        { ...server.admin, tunnel: 'ice' },
        { url: `${app.url}/thaw`, timeoutMs: 5000 },
      );
      return r.status === 200 ? true : undefined;
    },
    30_000,
    () => sc.logs(),
  );
  t.diagnostic(`serving again ${Date.now() - thawed} ms after SIGCONT`);
  assert.deepEqual(await listTunnels(server, server.admin), [id]);
  assert.equal((await tunnel(server, id!))['is_ready'], true);
});
