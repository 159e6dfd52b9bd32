/**
 * Issue 2: a browser-side request reaches an app that listens only on the client's 127.0.0.1, through the
 * proxy entry and the tunnel: plain HTTP, CONNECT with TLS end to end, WebSocket over ws:// and wss://.
 */
import assert from 'node:assert/strict';
import https from 'node:https';
import { after, before, test } from 'node:test';
import tls from 'node:tls';
import { fetch } from 'undici';
import {
  cleanup,
  closed,
  connectThroughProxy,
  deterministicBytes,
  proxyAgent,
  proxyRequest,
  startClient,
  startHttpApp,
  startServer,
  startTlsApp,
  startWsEcho,
  testCa,
  wssThroughConnect,
  wsThroughProxy,
  type Origin,
  type ProxyAuth,
  type TestClient,
  type TestServer,
} from '../../kit/index.js';

let server: TestServer;
let client: TestClient;
let app: Origin;
let auth: ProxyAuth;

before(async () => {
  app = await startHttpApp();
  server = await startServer();
  // CONNECTs here mean TLS end to end (the target's own certificate): no resigning.
  client = await startClient(server, { tunnelName: 'e2e-entry', args: ['--tls-passthrough-domains', '.*'] });
  auth = { ...server.admin, tunnel: 'e2e-entry' };
});
after(cleanup);

const logs = (): string => `${client.process.describe()}\n${server.process.describe()}`;

test('GET reaches an app that listens only on the client side 127.0.0.1', async () => {
  const r = await proxyRequest(server, auth, { url: `${app.url}/echo?x=1`, headers: { 'x-test': 'hello' } });
  assert.equal(r.status, 200, logs());
  const echo = JSON.parse(r.body.toString()) as {
    method: string;
    url: string;
    headers: Record<string, string>;
  };
  assert.equal(echo.method, 'GET');
  assert.equal(echo.url, '/echo?x=1');
  assert.equal(echo.headers['x-test'], 'hello');
  assert.equal(echo.headers['host'], app.host);
  assert.equal(echo.headers['proxy-authorization'], undefined, 'proxy credentials must not reach the app');
});

test('undici fetch through a ProxyAgent gets the exact body', async () => {
  const agent = proxyAgent(server, auth);
  try {
    const res = await fetch(`${app.url}/bytes/100000?seed=3`, { dispatcher: agent });
    assert.equal(res.status, 200);
    const body = Buffer.from(await res.arrayBuffer());
    assert.ok(body.equals(deterministicBytes(100000, 3)), 'body differs');
  } finally {
    await agent.close();
  }
});

test('CONNECT to the TLS app: TLS end to end with the test CA', async () => {
  const tlsApp = await startTlsApp();
  const ca = await testCa();
  const raw = await connectThroughProxy(server, tlsApp.host, auth);
  const secure = tls.connect({ socket: raw, servername: 'localhost', ca: ca.caPem });
  await new Promise<void>((resolve, reject) => {
    secure.once('secureConnect', resolve);
    secure.once('error', reject);
  });
  // The certificate seen is the app's own, not one made by the tunnel.
  assert.equal(secure.getPeerX509Certificate()?.issuer, 'CN=Sluice e2e throwaway CA');
  const r = await new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = https.request(
      {
        method: 'POST',
        path: '/echo',
        host: 'localhost',
        createConnection: () => secure,
        headers: { 'x-a': 'b' },
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('error', reject);
    req.end('over tls');
  });
  secure.destroy();
  assert.equal(r.status, 200);
  const echo = JSON.parse(r.body) as { method: string; body: string; headers: Record<string, string> };
  assert.equal(echo.method, 'POST');
  assert.equal(echo.body, 'over tls');
  assert.equal(echo.headers['x-a'], 'b');
});

test('WebSocket echo over ws:// (absolute-form upgrade)', async () => {
  const echo = await startWsEcho();
  const ws = await wsThroughProxy(server, auth, `${echo.url}/chat?room=1`);
  const got: string[] = [];
  const done = new Promise<void>((resolve) =>
    ws.on('message', (d: Buffer) => {
      got.push(d.toString());
      if (got.length === 3) resolve();
    }),
  );
  ws.send('one');
  ws.send('two');
  ws.send(Buffer.from('three'));
  await done;
  assert.deepEqual(got, ['one', 'two', 'three']);
  assert.equal(echo.headers[0]?.url, '/chat?room=1');
  assert.equal(echo.headers[0]?.headers['proxy-authorization'], undefined);
  ws.close(1000, 'bye');
  assert.equal((await closed(ws)).code, 1000);
});

test('WebSocket echo over wss:// through CONNECT', async () => {
  const echo = await startWsEcho(true);
  const ca = await testCa();
  const ws = await wssThroughConnect(server, auth, `wss://127.0.0.1:${echo.port}/secure`, ca.caPem);
  const reply = new Promise<string>((resolve) => ws.once('message', (d: Buffer) => resolve(d.toString())));
  ws.send('secret hello');
  assert.equal(await reply, 'secret hello');
  ws.close(1000);
  await closed(ws);
});
