/**
 * Domain rules (docs/routing.md): sc sends --tunnel-domains, --direct-domains and --deny-domains at creation and
 * the server routes each request by them: through the tunnel (sc serves it), direct from the server's own
 * network (sc never sees it), or denied with 403 denied naming host and rule. Direct routing may reach loopback
 * only with sc-server --direct-allow-networks (tests may only send traffic to 127.0.0.1), never the server's own
 * listeners. Tunnels with rules are not spliced, so a later request on a keep-alive connection obeys them too.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, test } from 'node:test';
import {
  cleanup,
  connectStatus,
  proxyGet,
  rest,
  startClient,
  startHttpApp,
  startServer,
  startTcpEcho,
  startWsEcho,
  type TestServer,
  wsThroughProxy,
} from '../../kit/index.js';

after(cleanup);

const ALLOW_LOOPBACK = ['--direct-allow-networks', '127.0.0.1/32'];

function auth(server: TestServer, tunnel: string) {
  return { username: server.admin.username, accessKey: server.admin.accessKey, tunnel };
}

test('direct_domains go direct from the server, deny_domains get 403 naming host and rule, the rest is tunnelled', async () => {
  const app = await startHttpApp();
  const server = await startServer({ args: ALLOW_LOOPBACK });
  const sc = await startClient(server, {
    tunnelName: 'rules',
    args: [
      '--direct-domains',
      '127\\.0\\.0\\.1',
      '--deny-domains',
      'forbidden\\.test,-ok\\.forbidden\\.test',
    ],
  });
  const a = auth(server, 'rules');

  const direct = await proxyGet(server, a, `${app.url}/direct`);
  assert.equal(direct.status, 200, direct.body);
  assert.equal(await sc.served(), 0, 'sc did not carry the direct request');
  assert.equal(app.requests.length, 1);

  const tunnelled = await proxyGet(server, a, `http://localhost:${app.port}/tunnelled`);
  assert.equal(tunnelled.status, 200, tunnelled.body);
  assert.equal(await sc.served(), 1, 'sc carried the tunnelled request');

  const denied = await proxyGet(server, a, 'http://forbidden.test/x');
  assert.equal(denied.status, 403);
  assert.equal(denied.error, 'denied');
  assert.match(denied.body, /host "forbidden\.test" matches deny_domains "forbidden\\\.test"/);
  // Anchored: a longer host that merely contains the pattern is not denied (it goes through the tunnel, where
  // sc fails to resolve it: not a 403).
  const longer = await proxyGet(server, a, 'http://notforbidden.test.evil/x');
  assert.notEqual(longer.error, 'denied');

  // CONNECT follows the same rules.
  const echo = await startTcpEcho('stream');
  assert.equal((await connectStatus(server, `127.0.0.1:${echo.port}`, a)).status, 200);
  const deniedConnect = await connectStatus(server, 'forbidden.test:443', a);
  assert.equal(deniedConnect.status, 403);
  assert.equal(deniedConnect.headers['x-sluice-error'], 'denied');
  assert.equal(await sc.served(), 1, 'the direct CONNECT did not reach sc');
});

test('tunnel_domains: only matching hosts are tunnelled, every other host goes direct', async () => {
  const app = await startHttpApp();
  const server = await startServer({ args: ALLOW_LOOPBACK });
  const sc = await startClient(server, { tunnelName: 'only', args: ['--tunnel-domains', 'LOCALHOST'] });
  const a = auth(server, 'only');
  assert.equal((await proxyGet(server, a, `http://localhost:${app.port}/t`)).status, 200);
  assert.equal(await sc.served(), 1, 'matching host (case-insensitive) tunnelled');
  assert.equal((await proxyGet(server, a, `${app.url}/d`)).status, 200);
  assert.equal(await sc.served(), 1, 'other host direct');
  assert.equal(app.requests.length, 2);
});

test('without --direct-allow-networks direct routing refuses loopback; the server itself is refused always', async () => {
  const app = await startHttpApp();
  const strict = await startServer();
  await startClient(strict, { tunnelName: 'strict', args: ['--direct-domains', '.*'] });
  const refused = await proxyGet(strict, auth(strict, 'strict'), `${app.url}/x`);
  assert.equal(refused.status, 403);
  assert.equal(refused.error, 'direct_denied');
  assert.match(refused.body, /127\.0\.0\.1 is a loopback, private or link-local address/);
  const refusedConnect = await connectStatus(strict, `127.0.0.1:${app.port}`, auth(strict, 'strict'));
  assert.equal(refusedConnect.status, 403);
  assert.equal(app.requests.length, 0, 'nothing reached the app');

  const open = await startServer({ args: ALLOW_LOOPBACK });
  await startClient(open, { tunnelName: 'self', args: ['--direct-domains', '.*'] });
  const self = await proxyGet(open, auth(open, 'self'), `http://127.0.0.1:${open.proxyPort}/`);
  assert.equal(self.status, 403);
  assert.equal(self.error, 'direct_denied');
  assert.match(self.body, /the server's own listeners/);
});

/** Two requests on one keep-alive connection (one socket), the second to a denied host. */
function get(server: TestServer, agent: http.Agent, tunnel: string, url: string) {
  return new Promise<{ status: number; error: string | undefined; reused: boolean }>((resolve, reject) => {
    const creds = auth(server, tunnel);
    const user = `${creds.username};tunnel=${tunnel}`;
    const req = http.request(
      {
        host: '127.0.0.1',
        port: server.proxyPort,
        path: url,
        agent,
        headers: {
          host: new URL(url).host,
          'proxy-authorization': 'Basic ' + Buffer.from(`${user}:${creds.accessKey}`).toString('base64'),
        },
      },
      (res) => {
        res.resume();
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            error: res.headers['x-sluice-error'] as string | undefined,
            reused: req.reusedSocket,
          }),
        );
      },
    );
    req.on('error', reject);
    req.end();
  });
}

test('the rules hold for a later request on a keep-alive connection to a tunnel with rules', async () => {
  const app = await startHttpApp();
  const server = await startServer();
  const sc = await startClient(server, { tunnelName: 'keep', args: ['--deny-domains', 'evil\\.test'] });
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  try {
    const first = await get(server, agent, 'keep', `${app.url}/first`);
    assert.equal(first.status, 200);
    const second = await get(server, agent, 'keep', 'http://evil.test/second');
    assert.equal(second.reused, true, 'the same connection carried the second request');
    assert.equal(second.status, 403);
    assert.equal(second.error, 'denied');
    const third = await get(server, agent, 'keep', `${app.url}/third`);
    assert.equal(third.status, 200);
    assert.equal(await sc.served(), 2, 'sc carried the two allowed requests only');
  } finally {
    agent.destroy();
  }
});

test('bad rules in the create body are refused with 400 naming the rule; nothing is created', async () => {
  const server = await startServer();
  const creds = { username: server.admin.username, accessKey: server.admin.accessKey };
  const path = `/${creds.username}/tunnels`;
  const bad = await rest(server, 'POST', path, creds, {
    tunnel_identifier: 'bad',
    deny_domains: ['(unclosed'],
  });
  assert.equal(bad.status, 400);
  assert.match(bad.text, /deny_domains: \\"\(unclosed\\" is an invalid regular expression/);
  const both = await rest(server, 'POST', path, creds, {
    tunnel_identifier: 'both',
    tunnel_domains: ['a'],
    direct_domains: ['b'],
  });
  assert.equal(both.status, 400);
  assert.match(both.text, /tunnel_domains and direct_domains exclude each other/);
  const list = await rest(server, 'GET', path, creds);
  assert.deepEqual(list.json, []);
});

test('WebSocket upgrades follow the rules: direct ones reach the app, denied ones are refused', async () => {
  const echo = await startWsEcho();
  const server = await startServer({ args: ALLOW_LOOPBACK });
  const sc = await startClient(server, {
    tunnelName: 'ws',
    args: ['--direct-domains', '127\\.0\\.0\\.1', '--deny-domains', 'localhost'],
  });
  const a = auth(server, 'ws');
  const ws = await wsThroughProxy(server, a, `${echo.url}/direct`);
  const reply = new Promise<string>((resolve) => ws.once('message', (d: Buffer) => resolve(d.toString())));
  ws.send('over the direct path');
  assert.equal(await reply, 'over the direct path');
  ws.close();
  assert.equal(echo.headers.length, 1, 'the upgrade reached the app');
  await assert.rejects(wsThroughProxy(server, a, `ws://localhost:${echo.port}/denied`), /403/);
  assert.equal(echo.headers.length, 1, 'the denied upgrade did not');
  assert.equal(await sc.served(), 0);
});
