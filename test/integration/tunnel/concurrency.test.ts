/**
 * Many requests at once through one tunnel: 100 concurrent HTTP requests with distinct bodies checked byte for
 * byte (issue 2), 1,000 concurrent idle CONNECT streams that all still echo, and the stream limit
 * (--tunnel-max-concurrent-streams 2 --tunnel-connections 1): extra requests wait or get 503, never hang.
 */
import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import { after, before, test } from 'node:test';
import {
  cleanup,
  connectThroughProxy,
  deterministicBytes,
  proxyRequest,
  sha256,
  startClient,
  startHttpApp,
  startServer,
  startTcpEcho,
  waitFor,
  waitUntilPeerRead,
  type Origin,
  type ProxyAuth,
  type TestServer,
} from '../../kit/index.js';

let server: TestServer;
let app: Origin;
let auth: ProxyAuth;

before(async () => {
  app = await startHttpApp();
  server = await startServer({ args: ['--queue-timeout', '2s'] });
  await startClient(server, {
    tunnelName: 'conc',
    args: ['--tunnel-max-concurrent-streams', '1024', '--tls-passthrough-domains', '.*'],
  });
  auth = { ...server.admin, tunnel: 'conc' };
});
after(cleanup);

/** Reads exactly `n` bytes from a socket (rejects on close or after 20 s). */
function readBytes(s: Socket, n: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let got = 0;
    const timer = setTimeout(() => finish(new Error(`read ${got}/${n} bytes, then timed out`)), 20_000);
    const onData = (c: Buffer): void => {
      chunks.push(c);
      got += c.length;
      if (got >= n) finish();
    };
    const onClose = (): void => finish(new Error(`socket closed after ${got}/${n} bytes`));
    const finish = (err?: Error): void => {
      clearTimeout(timer);
      s.off('data', onData);
      s.off('close', onClose);
      s.pause();
      if (err) reject(err);
      else resolve(Buffer.concat(chunks));
    };
    s.on('data', onData);
    s.once('close', onClose);
    s.resume();
  });
}

test('100 concurrent requests through one tunnel, every body checked byte for byte', async () => {
  const jobs = Array.from({ length: 100 }, async (_, i) => {
    const size = 1 + ((i * 7919) % 300_000);
    if (i % 3 === 0) {
      const r = await proxyRequest(server, auth, { url: `${app.url}/bytes/${size}?seed=${i}` });
      assert.equal(r.status, 200, `#${i}`);
      assert.equal(r.body.length, size, `#${i} length`);
      assert.ok(r.body.equals(deterministicBytes(size, i)), `#${i} download body differs`);
    } else if (i % 3 === 1) {
      const body = deterministicBytes(size, 1000 + i);
      const r = await proxyRequest(server, auth, { method: 'PUT', url: `${app.url}/sha256`, body });
      assert.equal(r.status, 200, `#${i}`);
      assert.deepEqual(JSON.parse(r.body.toString()), { sha256: sha256(body), bytes: size }, `#${i} upload`);
    } else {
      const text = `request ${i} ` + 'x'.repeat(i * 13);
      const r = await proxyRequest(server, auth, { method: 'POST', url: `${app.url}/echo/${i}`, body: text });
      assert.equal(r.status, 200, `#${i}`);
      const echo = JSON.parse(r.body.toString()) as { url: string; body: string };
      assert.equal(echo.url, `/echo/${i}`);
      assert.equal(echo.body, text, `#${i} echo body`);
    }
  });
  await Promise.all(jobs);
});

test('1,000 concurrent idle CONNECT streams all still echo', async () => {
  const echo = await startTcpEcho();
  const sockets: Socket[] = [];
  try {
    // Opened in waves so the test does not depend on the listen backlog.
    for (let wave = 0; wave < 10; wave++) {
      sockets.push(
        ...(await Promise.all(
          Array.from({ length: 100 }, () => connectThroughProxy(server, echo.host, auth)),
        )),
      );
    }
    await waitFor('1000 connections at the echo server', () => echo.connections() >= 1000);
    // All idle and open at once; now each carries its own message.
    const results = await Promise.all(
      sockets.map(async (s, i) => {
        const msg = Buffer.from(`stream ${i} says hello ${'#'.repeat(i % 50)}`);
        const reply = readBytes(s, msg.length);
        s.write(msg);
        return (await reply).equals(msg);
      }),
    );
    assert.equal(results.filter((ok) => !ok).length, 0, 'some streams echoed the wrong bytes');
  } finally {
    for (const s of sockets) s.destroy();
  }
});

test('stream limit: a request beyond --tunnel-max-concurrent-streams waits for a slot or gets 503', async () => {
  await startClient(server, {
    tunnelName: 'conc-small',
    args: [
      '--tunnel-max-concurrent-streams',
      '2',
      '--tunnel-connections',
      '1',
      '--tls-passthrough-domains',
      '.*',
    ],
  });
  const small = { ...auth, tunnel: 'conc-small' };
  const echo = await startTcpEcho();
  const held = [
    await connectThroughProxy(server, echo.host, small),
    await connectThroughProxy(server, echo.host, small),
  ];
  try {
    // Both streams busy: the queue timeout (2s) passes and the proxy says why.
    const r = await proxyRequest(server, small, { url: `${app.url}/x` });
    assert.equal(r.status, 503, r.body.toString());
    assert.equal(r.headers['x-sluice-error'], 'tunnel_capacity');
    assert.match(r.body.toString(), /busy/);

    // A waiting request gets the slot as soon as one stream ends.
    let socket: Socket | undefined;
    const waiting = proxyRequest(server, small, { url: `${app.url}/waited`, onSocket: (s) => (socket = s) });
    // Free a stream only once the server has the request in hand (and so in its queue), not after a guess.
    await waitFor('the waiting request to be sent', () => socket);
    await waitUntilPeerRead(socket!);
    held.shift()!.destroy();
    const w = await waiting;
    assert.equal(w.status, 200, w.body.toString());
    assert.equal((JSON.parse(w.body.toString()) as { url: string }).url, '/waited');
  } finally {
    for (const s of held) s.destroy();
  }
});
