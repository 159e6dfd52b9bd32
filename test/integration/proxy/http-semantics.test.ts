/**
 * Issue 3: HTTP semantics through the tunnel: every method with bodies, chunked bodies both ways, HEAD/204/304
 * without bodies (checked on a kept-alive connection, where a stray body would corrupt the next response),
 * Expect: 100-continue, 431 for oversized headers, hop-by-hop headers removed and Via added.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import { Readable } from 'node:stream';
import { after, before, test } from 'node:test';
import {
  CHUNKED_BODY,
  cleanup,
  proxyAuthorization,
  proxyRequest,
  sha256,
  startClient,
  startHttpApp,
  startServer,
  within,
  type Origin,
  type ProxyAuth,
  type TestServer,
} from '../../kit/index.js';

let server: TestServer;
let app: Origin;
let auth: ProxyAuth;

before(async () => {
  app = await startHttpApp();
  // http-semantics-per-request.test.ts runs this file again with splicing off (docs/decisions/0006-splice.md).
  const splice = process.env['SLUICE_TEST_PROXY_SPLICE'] ?? 'true';
  server = await startServer({ args: ['--proxy-splice', splice] });
  await startClient(server, { tunnelName: 'sem' });
  auth = { ...server.admin, tunnel: 'sem' };
});
after(cleanup);

interface Echo {
  method: string;
  url: string;
  body: string;
  headers: Record<string, string | undefined>;
}

test('every method carries its body and comes back intact', async () => {
  for (const method of ['POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'GET']) {
    const body = method === 'GET' ? undefined : `${method} body ✓ ${'z'.repeat(method.length * 100)}`;
    const r = await proxyRequest(server, auth, { method, url: `${app.url}/m/${method}`, body });
    assert.equal(r.status, 200, `${method}: ${r.body.toString()}`);
    const echo = JSON.parse(r.body.toString()) as Echo;
    assert.equal(echo.method, method);
    assert.equal(echo.url, `/m/${method}`);
    assert.equal(echo.body, body ?? '', `${method} body`);
  }
});

test('chunked request and response bodies', async () => {
  const parts = ['alpha,', 'beta,'.repeat(1000), 'gamma'];
  const r = await proxyRequest(server, auth, {
    method: 'POST',
    url: `${app.url}/sha256`,
    body: Readable.from(parts),
  });
  assert.equal(r.status, 200, r.body.toString());
  const whole = parts.join('');
  assert.deepEqual(JSON.parse(r.body.toString()), { sha256: sha256(whole), bytes: Buffer.byteLength(whole) });

  const down = await proxyRequest(server, auth, { url: `${app.url}/chunked` });
  assert.equal(down.status, 200);
  assert.equal(down.body.toString(), CHUNKED_BODY.join(''));
});

test('HEAD, 204 and 304 have no body, and the kept-alive connection stays in sync', async () => {
  let connections = 0;
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const create = (agent as unknown as { createConnection: (...a: unknown[]) => unknown }).createConnection;
  (agent as unknown as { createConnection: (...a: unknown[]) => unknown }).createConnection = (
    ...a: unknown[]
  ) => {
    connections++;
    return create.apply(agent, a);
  };
  try {
    const seq = [
      { method: 'HEAD', path: '/head', status: 200 },
      { method: 'GET', path: '/status/204', status: 204 },
      { method: 'GET', path: '/status/304', status: 304 },
      { method: 'HEAD', path: '/bytes/5000', status: 200 },
      { method: 'GET', path: '/head', status: 200 },
    ];
    for (const s of seq) {
      const r = await proxyRequest(server, auth, { method: s.method, url: app.url + s.path, agent });
      assert.equal(r.status, s.status, `${s.method} ${s.path}`);
      if (s.method === 'GET' && s.path === '/head') assert.equal(r.body.toString(), 'head route body\n');
      else assert.equal(r.body.length, 0, `${s.method} ${s.path} has a body`);
      if (s.path === '/bytes/5000')
        assert.equal(r.headers['content-length'], '5000', 'HEAD keeps Content-Length');
    }
    assert.equal(connections, 1, 'the proxy closed the kept-alive connection after a bodiless response');
  } finally {
    agent.destroy();
  }
});

test('Expect: 100-continue gets a 100 before the body is sent', async () => {
  const result = await within(
    new Promise<{ continued: boolean; status: number; body: string }>((resolve, reject) => {
      let continued = false;
      const req = http.request({
        host: '127.0.0.1',
        port: server.proxyPort,
        method: 'POST',
        path: `${app.url}/expect`,
        agent: false,
        headers: {
          expect: '100-continue',
          'content-length': '11',
          'proxy-authorization': proxyAuthorization(auth),
        },
      });
      req.on('continue', () => {
        continued = true;
        req.end('hello world');
      });
      req.on('response', (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () => resolve({ continued, status: res.statusCode ?? 0, body }));
      });
      req.on('error', reject);
      req.flushHeaders();
    }),
    20_000,
    'Expect: 100-continue request',
  );
  assert.ok(result.continued, 'no 100 Continue');
  assert.equal(result.status, 200);
  assert.equal((JSON.parse(result.body) as Echo).body, 'hello world');
});

test('oversized request headers: 431 with X-Sluice-Error', async () => {
  const r = await proxyRequest(server, auth, {
    url: `${app.url}/big`,
    headers: { 'x-big': 'a'.repeat(20_000) },
  });
  assert.equal(r.status, 431);
  assert.equal(r.headers['x-sluice-error'], 'header_too_large');
  assert.ok(!app.requests.some((q) => q.url === '/big'), 'the oversized request reached the app');
});

test('hop-by-hop headers are removed and Via is added on the origin side', async () => {
  const r = await proxyRequest(server, auth, {
    url: `${app.url}/hop`,
    headers: {
      connection: 'keep-alive, x-private-hop',
      'x-private-hop': 'secret',
      'keep-alive': 'timeout=5',
      'proxy-connection': 'keep-alive',
      te: 'trailers',
      'x-end-to-end': 'kept',
    },
  });
  assert.equal(r.status, 200);
  const h = (JSON.parse(r.body.toString()) as Echo).headers;
  assert.equal(h['x-end-to-end'], 'kept');
  for (const gone of ['x-private-hop', 'keep-alive', 'proxy-connection', 'proxy-authorization', 'te']) {
    assert.equal(h[gone], undefined, `${gone} reached the origin`);
  }
  // `?? ''`: a missing header must fail the match (String(undefined) would not).
  assert.match(String(h['via'] ?? ''), /\b1\.1 sluice\b/, `Via missing or wrong on the request: ${h['via']}`);
  assert.match(
    String(r.headers['via'] ?? ''),
    /\bsluice\b/,
    `Via missing on the response: ${r.headers['via']}`,
  );
  assert.equal(r.headers['x-origin'], 'e2e', 'end-to-end response header lost');
});
