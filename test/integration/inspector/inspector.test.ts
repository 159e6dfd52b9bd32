/**
 * The live request inspector (`sc run --inspector`) with real parts: sc-server, sc and apps on loopback, requests
 * through the proxy entry like a browser's. Both plain-HTTP paths (spliced, and per request with
 * --proxy-splice false) record a GET with a cookie and Authorization, one whose Authorization --auth injects, a POST
 * with a body, a failed one (dial_refused) and a CONNECT; the HAR export is valid HAR 1.2 with those entries,
 * statuses, body text and every credential masked (also where the app echoes it in its body). Then: the live
 * feed, the route through an upstream proxy (squid) and the --debug-address path, the memory bounds, the refusal at start off loopback without --api-basic-auth, 401 without the API's
 * basic auth, the Host check, and 404 when the flag is off.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, test } from 'node:test';
import {
  apiGet,
  apiRequest,
  cleanup,
  closedPort,
  connectThroughProxy,
  inspectorFeed,
  inspectorJson,
  onCleanup,
  proxyRequest,
  READY_LINE,
  startClient,
  startHttpApp,
  startServer,
  startTcpEcho,
  validateHar,
  waitFor,
  type TestServer,
} from '../../kit/index.js';
import { startSquid } from '../../kit/proxies.js';

after(cleanup);

const COOKIE_SECRET = 'COOKIE-VALUE-7731';
const SET_COOKIE_SECRET = 'SETCOOKIE-VALUE-5519';
const BEARER = 'BEARER-TOKEN-90210';
const SITE_PASSWORD = 'SITE-PASSWORD-4477';
const SECRETS = [COOKIE_SECRET, SET_COOKIE_SECRET, BEARER, SITE_PASSWORD];

/** An app that sets a cookie and echoes the request (headers and body) as JSON, as many test apps do. */
async function echoApp(): Promise<number> {
  const srv = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      res.writeHead(200, {
        'content-type': 'application/json',
        'set-cookie': `session=${SET_COOKIE_SECRET}; Path=/; HttpOnly`,
      });
      res.end(JSON.stringify({ url: req.url, headers: req.headers, body: Buffer.concat(chunks).toString() }));
    });
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  onCleanup(() => new Promise<void>((r) => srv.close(() => r())));
  return (srv.address() as AddressInfo).port;
}

interface Har {
  log: {
    entries: {
      request: {
        method: string;
        url: string;
        headers: { name: string; value: string }[];
        cookies: { name: string; value: string }[];
        postData?: { mimeType: string; text: string };
      };
      response: {
        status: number;
        headers: { name: string; value: string }[];
        cookies: { name: string; value: string }[];
        content: { size: number; text?: string };
      };
      _kind: string;
      _route: string;
      _rules: string[];
      _error: string | null;
      _bytesUp: number;
      _bytesDown: number;
    }[];
  };
}

interface Summary {
  id: number;
  url: string;
  status: number;
  done: boolean;
  error: string | null;
}

const header = (hs: { name: string; value: string }[], name: string): string | undefined =>
  hs.find((h) => h.name.toLowerCase() === name)?.value;

async function traffic(splice: boolean): Promise<void> {
  const server = await startServer({ args: splice ? [] : ['--proxy-splice', 'false'] });
  const appPort = await echoApp();
  const echo = await startTcpEcho('stream');
  const name = splice ? 'insp-spliced' : 'insp-per-request';
  const client = await startClient(server, {
    tunnelName: name,
    // The CONNECT below is a raw pipe (TCP echo): no resigning, except for the --auth host (always resigned),
    // which is why the pipe goes to localhost rather than 127.0.0.1.
    args: [
      '--inspector',
      '--auth',
      `site:${SITE_PASSWORD}@127.0.0.1:${appPort}`,
      '--tls-passthrough-domains',
      '.*',
    ],
  });
  const auth = { username: server.admin.username, accessKey: server.admin.accessKey, tunnel: name };
  const app = `http://127.0.0.1:${appPort}`;
  const feed = await inspectorFeed(client.apiUrl);

  const own = await proxyRequest(server, auth, {
    url: `${app}/own?q=1`,
    headers: { cookie: `theme=${COOKIE_SECRET}`, authorization: `Bearer ${BEARER}` },
  });
  assert.equal(own.status, 200);
  const injected = await proxyRequest(server, auth, { url: `${app}/injected` });
  assert.equal(injected.status, 200);
  assert.match(injected.body.toString(), /"authorization":"Basic /, 'the app saw the --auth credentials');
  // A body sent in pieces (chunked), so the per-stream path and the relay both carry framing to undo.
  const post = await proxyRequest(server, auth, {
    method: 'POST',
    url: `${app}/form`,
    headers: { 'content-type': 'text/plain', 'transfer-encoding': 'chunked' },
    body: 'field=value&other=42',
  });
  assert.equal(post.status, 200);
  const refused = await proxyRequest(server, auth, { url: `http://127.0.0.1:${await closedPort()}/gone` });
  assert.equal(refused.status, 502);
  assert.equal(refused.headers['x-sluice-error'], 'dial_refused');
  const tunnel = await connectThroughProxy(server, `localhost:${echo.port}`, auth);
  tunnel.write('ping!');
  await new Promise<void>((resolve) => tunnel.once('data', () => resolve()));
  tunnel.end();
  await new Promise<void>((resolve) => tunnel.on('close', () => resolve()));

  // The live feed saw each request start and finish.
  const added = await feed.next((e) => e.event === 'add' && e.data.includes('/form'));
  const id = (JSON.parse(added.data) as Summary).id;
  await feed.next((e) => e.event === 'update' && (JSON.parse(e.data) as Summary).id === id);

  // The CONNECT record is finished once the tunnel closed on sc's side too.
  await waitFor('the CONNECT record is finished', async () => {
    const list = await inspectorJson<{ requests: Summary[] }>(client.apiUrl, '/inspector/api/requests');
    return list.requests.length === 5 && list.requests.every((r) => r.done);
  });

  const harAnswer = await apiRequest(client.apiUrl, '/inspector/har');
  assert.equal(harAnswer.status, 200);
  assert.match(String(harAnswer.headers['content-disposition']), /attachment/);
  for (const s of SECRETS) assert.ok(!harAnswer.body.includes(s), `the HAR must not contain ${s}`);
  const data = JSON.parse(harAnswer.body) as Har;
  await validateHar(data);
  const entries = data.log.entries;
  assert.deepEqual(
    entries.map((e) => [e.request.method, e.response.status, e._error]),
    [
      ['GET', 200, null],
      ['GET', 200, null],
      ['POST', 200, null],
      ['GET', 502, 'dial_refused'],
      ['CONNECT', 200, null],
    ],
  );
  const kind = splice ? 'splice' : 'stream';
  assert.deepEqual(
    entries.map((e) => e._kind),
    [kind, kind, kind, kind, 'connect'],
  );

  const [getOwn, getInjected, postForm, failed, connect] = entries as [
    Har['log']['entries'][0],
    Har['log']['entries'][0],
    Har['log']['entries'][0],
    Har['log']['entries'][0],
    Har['log']['entries'][0],
  ];
  assert.equal(getOwn.request.url, `${app}/own?q=1`);
  assert.equal(header(getOwn.request.headers, 'authorization'), 'Bearer ****');
  assert.equal(header(getOwn.request.headers, 'cookie'), 'theme=****');
  assert.deepEqual(getOwn.request.cookies, [{ name: 'theme', value: '****' }]);
  assert.equal(header(getOwn.response.headers, 'set-cookie'), 'session=****; Path=/; HttpOnly');
  assert.deepEqual(getOwn.response.cookies, [{ name: 'session', value: '****' }]);
  assert.equal(getOwn._route, 'direct');
  assert.deepEqual(getOwn._rules, []);
  // The app echoed the request's headers: the body is shown, with the credentials scrubbed.
  const echoed = JSON.parse(getOwn.response.content.text ?? '') as {
    url: string;
    headers: Record<string, string>;
  };
  assert.equal(echoed.url, '/own?q=1');
  assert.equal(echoed.headers['authorization'], 'Bearer ****');
  assert.equal(echoed.headers['cookie'], 'theme=****');

  assert.equal(header(getInjected.request.headers, 'authorization'), 'Basic ****');
  assert.deepEqual(getInjected._rules, ['--auth']);
  assert.equal(
    (JSON.parse(getInjected.response.content.text ?? '') as { headers: Record<string, string> }).headers[
      'authorization'
    ],
    'Basic ****',
  );

  assert.equal(postForm.request.postData?.text, 'field=value&other=42');
  assert.equal(postForm.request.postData?.mimeType, 'text/plain');
  assert.match(postForm.response.content.text ?? '', /"body":"field=value&other=42"/);
  assert.ok(postForm._bytesUp > 20 && postForm._bytesDown > 0);

  assert.equal(failed.response.status, 502);
  assert.equal(failed._error, 'dial_refused');

  assert.equal(connect.request.url, `https://localhost:${echo.port}/`);
  assert.equal(connect._route, 'direct');
  assert.equal(connect._bytesUp, 5);
  assert.equal(connect._bytesDown, 5);

  // The detail route: the same record with timings.
  const detail = await inspectorJson<{
    method: string;
    timings: { ttfb: number; total: number };
    responseBody: { text: string };
  }>(client.apiUrl, `/inspector/api/requests/${id}`);
  assert.equal(detail.method, 'POST');
  assert.ok(detail.timings.ttfb >= 0 && detail.timings.total >= detail.timings.ttfb);
  assert.match(detail.responseBody.text, /field=value/);
  assert.equal((await apiGet(client.apiUrl, '/inspector/api/requests/999999')).status, 404);

  // The page and its script.
  const page = await apiRequest(client.apiUrl, '/inspector/');
  assert.equal(page.status, 200);
  assert.match(page.body, /<table id="requests">/);
  assert.match(String(page.headers['content-security-policy']), /script-src 'self'/);
  assert.equal((await apiGet(client.apiUrl, '/inspector/app.js')).status, 200);
  // A name some DNS could point at loopback (DNS rebinding) is refused without --api-basic-auth.
  const rebound = await apiRequest(client.apiUrl, '/inspector/har', {
    headers: { host: 'attacker.example' },
  });
  assert.equal(rebound.status, 403);
  await server.stop();
}

test('spliced connections: the HAR of real traffic has every request, statuses, bodies, masked secrets', () =>
  traffic(true));

test('per-request streams (--proxy-splice false): the same records', () => traffic(false));

async function getN(server: TestServer, auth: object, url: string, n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    const r = await proxyRequest(server, auth as never, { url: `${url}${i}` });
    assert.equal(r.status, 200);
  }
}

test('the route and the path: --proxy through squid, and --debug-address', async () => {
  const [server, app, squid] = await Promise.all([startServer(), startHttpApp(), startSquid()]);
  const client = await startClient(server, {
    tunnelName: 'insp-route',
    args: ['--inspector', '--proxy', `http://127.0.0.1:${squid.port}`, '--debug-address', '127.0.0.1:0'],
  });
  const auth = { username: server.admin.username, accessKey: server.admin.accessKey, tunnel: 'insp-route' };
  assert.equal((await proxyRequest(server, auth, { url: `${app.url}/via-squid` })).status, 200);
  const debugPort = Number((await client.waitForLog(/debug proxy listening.*?127\.0\.0\.1:(\d+)/))[1]);
  const debug = { proxyAddress: `127.0.0.1:${debugPort}`, proxyPort: debugPort };
  assert.equal((await proxyRequest(debug, null, { url: `${app.url}/via-debug` })).status, 200);
  const list = await inspectorJson<{ requests: (Summary & { kind: string; route: string })[] }>(
    client.apiUrl,
    '/inspector/api/requests',
  );
  const proxyRoute = `proxy http://127.0.0.1:${squid.port}`;
  assert.deepEqual(
    list.requests.map((r) => [r.kind, r.url, r.route, r.status]),
    [
      ['splice', `${app.url}/via-squid`, proxyRoute, 200],
      ['debug', `${app.url}/via-debug`, proxyRoute, 200],
    ],
  );
});

test('memory bounds: the byte budget and the ring drop the oldest records; bodies are capped', async () => {
  const server = await startServer();
  const appPort = await echoApp();
  const big = await startHttpApp();
  const client = await startClient(server, {
    tunnelName: 'insp-bounds',
    args: ['--inspector', '--inspector-max-requests', '20', '--inspector-max-memory', '1'],
  });
  const auth = { username: server.admin.username, accessKey: server.admin.accessKey, tunnel: 'insp-bounds' };
  // 100 KB bodies: each keeps its first 64 KiB, so the 1 MiB budget holds about 15 of them.
  await getN(server, auth, `${big.url}/bytes/100000?seed=`, 20);
  let list = await inspectorJson<{ requests: Summary[]; usedBytes: number; maxBytes: number }>(
    client.apiUrl,
    '/inspector/api/requests',
  );
  assert.equal(list.maxBytes, 1024 * 1024);
  assert.ok(list.usedBytes <= list.maxBytes, `${list.usedBytes} bytes held`);
  assert.ok(list.requests.length < 20 && list.requests.length >= 14, `${list.requests.length} records kept`);
  assert.equal(list.requests.at(-1)!.url, `${big.url}/bytes/100000?seed=19`, 'the newest is kept');
  const last = await inspectorJson<{ responseBody: { size: number; truncated: boolean; text: string } }>(
    client.apiUrl,
    `/inspector/api/requests/${list.requests.at(-1)!.id}`,
  );
  assert.equal(last.responseBody.size, 100000);
  assert.equal(last.responseBody.truncated, true);
  assert.equal(Buffer.from(last.responseBody.text, 'base64').length, 64 * 1024);

  // More small requests than the ring holds: the 20 newest stay.
  await getN(server, auth, `http://127.0.0.1:${appPort}/small/`, 25);
  list = await inspectorJson(client.apiUrl, '/inspector/api/requests');
  assert.deepEqual(
    list.requests.map((r) => r.url),
    Array.from({ length: 20 }, (_, i) => `http://127.0.0.1:${appPort}/small/${i + 5}`),
  );
  const har = JSON.parse((await apiRequest(client.apiUrl, '/inspector/har')).body) as Har;
  assert.equal(har.log.entries.length, 20);
  await validateHar(har);
});

test('refused at start: --inspector with the API on all interfaces and no --api-basic-auth', async () => {
  const server = await startServer();
  const client = await startClient(server, {
    tunnelName: 'insp-refused',
    args: ['--inspector', '--api-address', ':0'],
    waitReady: false,
    waitApi: false,
  });
  const exit = await client.waitExit();
  assert.equal(exit.code, 2);
  assert.match(client.logs(), /--inspector with --api-address :0 .*--api-basic-auth/);
  assert.doesNotMatch(client.logs(), /provisioning tunnel|at .*\.js:\d+/);

  const none = await startClient(server, {
    tunnelName: 'insp-no-api',
    bare: true,
    args: ['--inspector', '-u', 'x', '-k', 'yyyy', '-r', 'us-west', '-i', 'n', '--rest-url', server.restUrl],
    waitReady: false,
    waitApi: false,
  });
  assert.equal((await none.waitExit()).code, 2);
  assert.match(none.logs(), /--inspector is served on the local API: set --api-address/);
});

test('--api-basic-auth: 401 without the credentials, the inspector with them on any interface', async () => {
  const server = await startServer();
  const client = await startClient(server, {
    tunnelName: 'insp-auth',
    args: ['--inspector', '--api-basic-auth', 'ops:API-PASS-1234'],
    waitReady: false,
  });
  await client.waitForLog(READY_LINE);
  const denied = await apiRequest(client.apiUrl, '/inspector/api/requests');
  assert.equal(denied.status, 401);
  assert.match(String(denied.headers['www-authenticate']), /^Basic/);
  const ok = await apiRequest(client.apiUrl, '/inspector/api/requests', {
    basicAuth: 'ops:API-PASS-1234',
    headers: { host: 'sc.ci.internal:8032' },
  });
  assert.equal(ok.status, 200, 'behind basic auth any Host is fine');
  assert.equal((await apiRequest(client.apiUrl, '/readyz', { basicAuth: 'ops:API-PASS-1234' })).status, 200);
});

test('off by default: no inspector routes', async () => {
  const server = await startServer();
  const client = await startClient(server, { tunnelName: 'insp-off' });
  assert.equal((await apiGet(client.apiUrl, '/inspector/')).status, 404);
  assert.equal((await apiGet(client.apiUrl, '/inspector/har')).status, 404);
  assert.doesNotMatch((await apiGet(client.apiUrl, '/')).body, /inspector/);
});
