/**
 * Issue 2: `sc run` by flags and by SAUCE_* env, its log steps and ready line, the local API's readiness and
 * liveness, graceful stop on SIGINT/SIGTERM (in-flight requests finish, tunnel deleted, exit 0), a second signal,
 * and the exit codes for refused credentials (3) and an unreachable server (4).
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  apiGet,
  cleanup,
  closedPort,
  listTunnels,
  proxyRequest,
  startClient,
  startHttpApp,
  startServer,
  waitFor,
  type Origin,
  type TestClient,
  type TestServer,
} from '../../kit/index.js';

let server: TestServer;
let app: Origin;

before(async () => {
  app = await startHttpApp();
  server = await startServer();
});
after(cleanup);

const both = (c: TestClient): string => `${c.process.describe()}\n${server.process.describe()}`;

test('sc run by flags logs each step, then the ready line; API health and info', async () => {
  const c = await startClient(server, { tunnelName: 'life-flags' });
  const logs = c.logs();
  const steps = [
    /starting/i,
    /provisioning tunnel/i,
    /tunnel running/i,
    /^(?!.*please wait).*you may start your tests/m,
  ];
  let at = 0;
  for (const re of steps) {
    const m = re.exec(logs.slice(at));
    assert.ok(m, `step ${re} missing (or out of order)\n${logs}`);
    at += m.index;
  }
  assert.match(
    logs,
    /^\d{4}\/\d{2}\/\d{2} \d{2}:\d{2}:\d{2}\.\d{6} \[control\] \[INFO\] /m,
    'SC5 log line layout',
  );
  assert.ok(!logs.includes(server.admin.accessKey), 'access key leaked into the logs');

  for (const path of ['/readyz', '/readiness', '/healthz', '/liveness']) {
    assert.equal((await apiGet(c.apiUrl, path)).status, 200, path);
  }
  const configz = await apiGet(c.apiUrl, '/configz');
  assert.equal(configz.status, 200, '/configz');
  assert.match(configz.body, /life-flags/, '/configz shows the configuration');
  assert.ok(!configz.body.includes(server.admin.accessKey), '/configz must not show the access key');
  const metrics = await apiGet(c.apiUrl, '/metrics');
  assert.equal(metrics.status, 200, '/metrics');
  assert.match(metrics.body, /^# (HELP|TYPE) /m, '/metrics is Prometheus text');
  assert.equal((await apiGet(c.apiUrl, '/version')).status, 200, '/version');
  const info = JSON.parse((await apiGet(c.apiUrl, '/info')).body) as Record<string, string>;
  assert.equal(info['tunnel_name'], 'life-flags');
  assert.deepEqual(await listTunnels(server, server.admin), [info['tunnel_id']]);
  assert.deepEqual((await c.stop('SIGINT')).code, 0);
});

test('sc run configured only by SAUCE_* env carries traffic', async () => {
  const c = await startClient(server, {
    tunnelName: 'life-env',
    bare: true,
    env: {
      SAUCE_USERNAME: server.admin.username,
      SAUCE_ACCESS_KEY: server.admin.accessKey,
      SAUCE_REGION: 'us-west',
      SAUCE_TUNNEL_NAME: 'life-env',
      SAUCE_REST_URL: server.restUrl,
      SAUCE_CACERT_FILE: server.caCert,
      SAUCE_PROXY_LOCALHOST: 'allow',
      SAUCE_API_ADDRESS: '127.0.0.1:0',
      SAUCE_TUNNEL_CONNECTIONS: '1',
    },
  });
  const r = await proxyRequest(
    server,
    { ...server.admin, tunnel: 'life-env' },
    { url: `${app.url}/status/201` },
  );
  assert.equal(r.status, 201, both(c));
  assert.equal((await c.stop('SIGTERM')).code, 0);
});

test('readiness is 503 while the server is unreachable, 200 once it is back', async () => {
  const s = await startServer();
  const addrs = {
    restAddress: new URL(s.restUrl).host,
    proxyAddress: s.proxyAddress,
    edgeAddress: s.edgeAddress,
  };
  assert.equal((await s.process.stop('SIGTERM')).code, 0);
  const c = await startClient(s, {
    tunnelName: 'life-wait',
    waitReady: false,
    args: ['--start-timeout', '60s'],
  });
  await c.waitForLog(/retrying/);
  assert.equal((await apiGet(c.apiUrl, '/readyz')).status, 503, 'ready with no server');
  assert.equal((await apiGet(c.apiUrl, '/healthz')).status, 200, 'alive while waiting');
  const back = await startServer({
    ...addrs,
    dataDir: s.dataDir,
    adminUser: s.admin.username,
    adminKey: s.admin.accessKey,
  });
  await c.waitReady();
  assert.equal((await apiGet(c.apiUrl, '/readyz')).status, 200);
  const r = await proxyRequest(back, { ...back.admin, tunnel: 'life-wait' }, { url: `${app.url}/x` });
  assert.equal(r.status, 200, both(c));
  assert.equal((await c.stop('SIGINT')).code, 0);
});

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  test(`${signal}: readiness 503, the in-flight request completes, tunnel deleted, exit 0`, async () => {
    const name = `life-${signal.toLowerCase()}`;
    const c = await startClient(server, { tunnelName: name });
    const info = JSON.parse((await apiGet(c.apiUrl, '/info')).body) as { tunnel_id: string };
    assert.ok((await listTunnels(server, server.admin)).includes(info.tunnel_id));
    const slow = proxyRequest(server, { ...server.admin, tunnel: name }, { url: `${app.url}/slow/1500` });
    await waitFor('the slow request to reach the app', () =>
      app.requests.some((r) => r.url === '/slow/1500'),
    );
    c.proc.kill(signal);
    await waitFor(
      'readiness 503 after the signal',
      async () => (await apiGet(c.apiUrl, '/readyz')).status === 503,
      10_000,
      () => both(c),
    );
    const r = await slow;
    assert.equal(r.status, 200, both(c));
    assert.equal(r.body.toString(), 'slow 1500\n');
    const exit = await c.waitExit();
    assert.equal(exit.code, 0, both(c));
    assert.ok(!(await listTunnels(server, server.admin)).includes(info.tunnel_id), 'tunnel still listed');
    app.requests.length = 0;
  });
}

test('a second signal exits at once (exit 1) while a request is still in flight', async () => {
  const c = await startClient(server, { tunnelName: 'life-twice' });
  const slow = proxyRequest(
    server,
    { ...server.admin, tunnel: 'life-twice' },
    { url: `${app.url}/slow/60000` },
  ).catch((err: unknown) => err);
  await waitFor('the slow request to reach the app', () => app.requests.some((r) => r.url === '/slow/60000'));
  c.proc.kill('SIGINT');
  await c.waitForLog(/shutting down/);
  c.proc.kill('SIGINT');
  const exit = await c.waitExit(10_000);
  assert.equal(exit.code, 1, both(c));
  await slow;
});

test('a wrong access key: clear message, exit 3', async () => {
  const c = await startClient(server, {
    tunnelName: 'life-badkey',
    accessKey: 'not-the-key-1234',
    waitReady: false,
    waitApi: false,
  });
  const exit = await c.waitExit();
  assert.equal(exit.code, 3, c.process.describe());
  assert.match(c.logs(), /authentication failed|credentials|access key/i);
  assert.ok(!c.logs().includes('not-the-key-1234'), 'the key must not be printed');
});

test('server not reachable: clear message, exit 4 after --start-timeout', async () => {
  const port = await closedPort();
  const dead = { ...server, restUrl: `https://127.0.0.1:${port}/rest/v1` };
  const c = await startClient(dead, {
    tunnelName: 'life-unreachable',
    waitReady: false,
    waitApi: false,
    args: ['--start-timeout', '2s'],
  });
  const exit = await c.waitExit(20_000);
  assert.equal(exit.code, 4, c.process.describe());
  assert.match(c.logs(), new RegExp(`127\\.0\\.0\\.1:${port}`), 'the message names the server address');
  assert.match(c.logs(), /ECONNREFUSED|not reachable|cannot reach/i);
});

test('a missing required flag: message naming it, exit 2, nothing created on the server', async () => {
  const before = await listTunnels(server, server.admin);
  const c = await startClient(server, {
    tunnelName: 'life-noregion',
    bare: true,
    args: [
      '--username',
      server.admin.username,
      '--access-key',
      server.admin.accessKey,
      '--tunnel-name',
      'x',
      '--rest-url',
      server.restUrl,
    ],
    waitReady: false,
    waitApi: false,
  });
  const exit = await c.waitExit();
  assert.equal(exit.code, 2, c.process.describe());
  assert.match(c.logs(), /--region/);
  assert.deepEqual(await listTunnels(server, server.admin), before);
});
