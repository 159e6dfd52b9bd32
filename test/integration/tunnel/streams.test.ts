/**
 * Issue 3: bulk and long-lived streams: a 64 MiB upload and download checked with SHA-256 (the 1 GiB variant
 * lives in the benchmark), CONNECT byte-exact with half-close in both directions, and a WebSocket carrying
 * 10,000 messages in order with close codes propagated both ways.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import http from 'node:http';
import type { Socket } from 'node:net';
import { Readable } from 'node:stream';
import { after, before, test } from 'node:test';
import {
  cleanup,
  closed,
  connectThroughProxy,
  deterministicBytes,
  GREETING,
  proxyAuthorization,
  proxyRequest,
  startClient,
  startHttpApp,
  startServer,
  startTcpEcho,
  startWsEcho,
  waitFor,
  within,
  wsThroughProxy,
  type Origin,
  type ProxyAuth,
  type TestServer,
} from '../../kit/index.js';

let server: TestServer;
let app: Origin;
let auth: ProxyAuth;

const MiB = 1 << 20;
const BIG = 64 * MiB;

before(async () => {
  app = await startHttpApp();
  server = await startServer();
  // CONNECT streams here carry raw bytes (TCP echo): no resigning.
  await startClient(server, { tunnelName: 'streams', args: ['--tls-passthrough-domains', '.*'] });
  auth = { ...server.admin, tunnel: 'streams' };
});
after(cleanup);

/** SHA-256 of the 64 MiB /bytes body with `seed`, computed in 1 MiB pieces like the origin sends it. */
function expectedSha(size: number, seed: number): string {
  const h = createHash('sha256');
  for (let off = 0; off < size; off += MiB)
    h.update(deterministicBytes(Math.min(MiB, size - off), seed, off));
  return h.digest('hex');
}

test('64 MiB download: SHA-256 matches', async () => {
  // No deadline of its own: speed is the bench's business; a hang fails at the runner's per-test timeout.
  const got = await new Promise<{ status: number; bytes: number; sha: string }>((resolve, reject) => {
    const req = http.request({
      host: '127.0.0.1',
      port: server.proxyPort,
      path: `${app.url}/bytes/${BIG}?seed=9`,
      agent: false,
      headers: { 'proxy-authorization': proxyAuthorization(auth) },
    });
    req.on('response', (res) => {
      const h = createHash('sha256');
      let bytes = 0;
      res.on('data', (c: Buffer) => {
        h.update(c);
        bytes += c.length;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, bytes, sha: h.digest('hex') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
  assert.equal(got.status, 200);
  assert.equal(got.bytes, BIG);
  assert.equal(got.sha, expectedSha(BIG, 9));
});

test('64 MiB upload: SHA-256 matches at the origin', async () => {
  function* pieces(): Generator<Buffer> {
    for (let off = 0; off < BIG; off += MiB) yield deterministicBytes(MiB, 4, off);
  }
  const r = await proxyRequest(server, auth, {
    method: 'POST',
    url: `${app.url}/sha256`,
    headers: { 'content-length': String(BIG) },
    body: Readable.from(pieces()),
    timeoutMs: 40_000,
  });
  assert.equal(r.status, 200, r.body.toString());
  assert.deepEqual(JSON.parse(r.body.toString()), { sha256: expectedSha(BIG, 4), bytes: BIG });
});

/** Everything a socket sends until its peer half-closes; rejects on error/timeout. */
function readToEnd(s: Socket): Promise<Buffer> {
  return within(
    new Promise<Buffer>((resolve, reject) => {
      const chunks: Buffer[] = [];
      s.on('data', (c: Buffer) => chunks.push(c));
      s.once('end', () => resolve(Buffer.concat(chunks)));
      s.once('error', reject);
      s.once('close', () => resolve(Buffer.concat(chunks)));
    }),
    20_000,
    'CONNECT stream to end',
  );
}

test('CONNECT is byte-exact and keeps half-close: the echo only starts after our FIN', async () => {
  const echo = await startTcpEcho('after-end');
  const s = await connectThroughProxy(server, echo.host, auth);
  const data = deterministicBytes(3 * MiB + 17, 77);
  let sawEnd = false;
  s.once('end', () => (sawEnd = true));
  const reply = readToEnd(s);
  s.end(data);
  const got = await reply;
  assert.equal(got.length, data.length, 'the echo (sent only after the FIN arrived) is incomplete');
  assert.ok(got.equals(data), 'CONNECT bytes differ');
  assert.ok(sawEnd, 'the echo server FIN did not come back as a clean end');
  s.destroy();
});

test('CONNECT: the target half-closes first and still receives what we send afterwards', async () => {
  const target = await startTcpEcho('greet-first');
  const s = await connectThroughProxy(server, target.host, auth);
  const greeting = await readToEnd(s);
  assert.equal(greeting.toString(), GREETING, 'the target FIN did not arrive as a clean end after its data');
  assert.ok(!s.destroyed, 'our side was torn down when the target half-closed');
  const late = deterministicBytes(200_000, 5).toString('base64');
  s.end(late);
  await waitFor('the target to receive our data after its own FIN', () => target.payloads().length > 0);
  assert.equal(target.payloads()[0], late);
  s.destroy();
});

test('WebSocket: 10,000 messages echo in order', async () => {
  const echo = await startWsEcho();
  const ws = await wsThroughProxy(server, auth, `${echo.url}/many`);
  const N = 10_000;
  const got: string[] = [];
  // No deadline of its own (speed lives in the bench); a hang fails at the runner's per-test timeout.
  const done = new Promise<void>((resolve) =>
    ws.on('message', (d: Buffer) => {
      got.push(d.toString());
      if (got.length === N) resolve();
    }),
  );
  for (let i = 0; i < N; i++) ws.send(`msg-${i}-${'x'.repeat(i % 64)}`);
  await done;
  const firstBad = got.findIndex((m, i) => m !== `msg-${i}-${'x'.repeat(i % 64)}`);
  assert.equal(firstBad, -1, `message ${firstBad} out of order or altered: ${got[firstBad]}`);
  ws.close(1000);
  await closed(ws);
});

test('WebSocket close codes propagate both ways', async () => {
  const echo = await startWsEcho();
  const a = await wsThroughProxy(server, auth, `${echo.url}/close-client`);
  a.close(4001, 'client-bye');
  assert.deepEqual(await closed(a), { code: 4001, reason: 'client-bye' });
  await within(
    new Promise<void>((r) => {
      const check = (): void => (echo.closes.length ? r() : void setTimeout(check, 20));
      check();
    }),
    20_000,
    'the server to see the close',
  );
  assert.deepEqual(echo.closes[0], { code: 4001, reason: 'client-bye' });

  const b = await wsThroughProxy(server, auth, `${echo.url}/close-server`);
  const closing = closed(b);
  b.send('close:4002:server-bye');
  assert.deepEqual(await closing, { code: 4002, reason: 'server-bye' });
});
