/**
 * Every way a proxied request fails ends in a status and an X-Sluice-Error code, never a hang:
 * 407 (credentials), 403 (unknown tunnel, localhost denied by the client), 503 (tunnel without connection),
 * 502 (dial refused), 504 (response timeout on the client side). Both for absolute-form requests and CONNECT.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  cleanup,
  closedPort,
  connectStatus,
  proxyRequest,
  rest,
  startClient,
  startHttpApp,
  startServer,
  startTcpEcho,
  startWsEcho,
  wsThroughProxy,
  type Origin,
  type ProxyAuth,
  type TestServer,
} from '../../kit/index.js';

let server: TestServer;
let app: Origin;
let auth: ProxyAuth;

before(async () => {
  app = await startHttpApp();
  // A short queue timeout so a tunnel with no connection answers quickly whatever the registry does.
  server = await startServer({ args: ['--queue-timeout', '2s'] });
  // CONNECT errors here are the raw pipe's (a resigned CONNECT is answered 200 before the target is dialled).
  await startClient(server, { tunnelName: 'err-main', args: ['--tls-passthrough-domains', '.*'] });
  auth = { ...server.admin, tunnel: 'err-main' };
});
after(cleanup);

function expectError(
  r: { status: number; headers: Record<string, string | string[] | undefined>; body: Buffer | string },
  status: number,
  code: string,
  where: string,
): void {
  const why = `${where}: got ${r.status} ${String(r.headers['x-sluice-error'])} ${r.body.toString()}`;
  assert.equal(r.status, status, why);
  assert.equal(r.headers['x-sluice-error'], code, why);
  const text = r.body.toString();
  assert.ok(
    text.trim().length > 0 && !text.trim().includes('\n'),
    `${where}: body must be one line: ${text}`,
  );
}

test('missing or wrong proxy credentials: 407 with Proxy-Authenticate', async () => {
  const none = await proxyRequest(server, null, { url: `${app.url}/x` });
  expectError(none, 407, 'proxy_auth_required', 'no credentials');
  assert.match(String(none.headers['proxy-authenticate']), /^Basic /);

  const wrong = await proxyRequest(
    server,
    { ...auth, accessKey: 'wrong-proxy-key' },
    { url: `${app.url}/x` },
  );
  expectError(wrong, 407, 'proxy_auth_required', 'wrong key');
  assert.ok(!server.logs().includes('wrong-proxy-key'), 'key logged');

  const connect = await connectStatus(server, app.host, { ...auth, accessKey: 'wrong-proxy-key' });
  expectError(connect, 407, 'proxy_auth_required', 'CONNECT wrong key');
  assert.equal(app.requests.filter((r) => r.url === '/x').length, 0, 'a refused request reached the app');

  const ws = await startWsEcho();
  await assert.rejects(
    wsThroughProxy(server, { ...auth, accessKey: 'wrong-proxy-key' }, `${ws.url}/x`),
    (err: Error) => {
      assert.match(err.message, /407/);
      return true;
    },
  );
  assert.equal(ws.headers.length, 0, 'a refused upgrade reached the app');
});

test('unknown tunnel: 403 naming it', async () => {
  const r = await proxyRequest(server, { ...auth, tunnel: 'no-such-tunnel' }, { url: `${app.url}/x` });
  expectError(r, 403, 'tunnel_not_found', 'HTTP');
  assert.match(r.body.toString(), /no-such-tunnel/);
  const c = await connectStatus(server, app.host, { ...auth, tunnel: 'no-such-tunnel' });
  expectError(c, 403, 'tunnel_not_found', 'CONNECT');
});

test('tunnel that exists but has no connection: 503', async () => {
  const created = await rest(server, 'POST', `/${server.admin.username}/tunnels`, server.admin, {
    tunnel_identifier: 'err-empty',
  });
  assert.equal(created.status, 200, created.text);
  const r = await proxyRequest(server, { ...auth, tunnel: 'err-empty' }, { url: `${app.url}/x` });
  expectError(r, 503, 'tunnel_unavailable', 'HTTP');
  const c = await connectStatus(server, app.host, { ...auth, tunnel: 'err-empty' });
  expectError(c, 503, 'tunnel_unavailable', 'CONNECT');
});

test('target port with nothing listening: 502 dial_refused', async () => {
  const port = await closedPort();
  const r = await proxyRequest(server, auth, { url: `http://127.0.0.1:${port}/x` });
  expectError(r, 502, 'dial_refused', 'HTTP');
  const c = await connectStatus(server, `127.0.0.1:${port}`, auth);
  expectError(c, 502, 'dial_refused', 'CONNECT');
});

test('localhost denied by the client (--proxy-localhost deny): 403', async () => {
  await startClient(server, {
    tunnelName: 'err-deny',
    args: ['--proxy-localhost', 'deny', '--tls-passthrough-domains', '.*'],
  });
  const deny = { ...auth, tunnel: 'err-deny' };
  const before = app.requests.length;
  for (const host of [app.host, `localhost:${app.port}`]) {
    const r = await proxyRequest(server, deny, { url: `http://${host}/x` });
    expectError(r, 403, 'localhost_denied', `HTTP ${host}`);
  }
  const echo = await startTcpEcho();
  const c = await connectStatus(server, echo.host, deny);
  expectError(c, 403, 'localhost_denied', 'CONNECT');
  assert.equal(app.requests.length, before, 'a denied request reached the app');
  assert.equal(echo.connections(), 0, 'a denied CONNECT reached the target');
});

test('target slower than --http-response-header-timeout: 504', async () => {
  await startClient(server, { tunnelName: 'err-slow', args: ['--http-response-header-timeout', '300ms'] });
  const r = await proxyRequest(server, { ...auth, tunnel: 'err-slow' }, { url: `${app.url}/slow/5000` });
  expectError(r, 504, 'response_timeout', 'HTTP');
});

test('origin-form request to the proxy (not a forward-proxy request): 400', async () => {
  const r = await proxyRequest(server, auth, { url: '/not-absolute' });
  expectError(r, 400, 'bad_request', 'origin-form');
});
