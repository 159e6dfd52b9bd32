/**
 * Connection hygiene at the proxy entry (issue 13, point 2): slowloris heads are closed after
 * --proxy-header-timeout while a request through a tunnel still succeeds; --proxy-max-connections-per-source;
 * failed authentications counted per forwarded client behind --trusted-proxies (X-Forwarded-For), and per socket
 * address otherwise; --proxy-idle-timeout on CONNECT.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, test } from 'node:test';
import {
  cleanup,
  connectThroughProxy,
  proxyGet,
  startClient,
  startHttpApp,
  startServer,
  startTcpEcho,
  waitFor,
  type Origin,
  type TestServer,
} from '../../kit/index.js';

let app: Origin;
before(async () => {
  app = await startHttpApp();
});
after(cleanup);

/** A raw connection to the proxy entry that records what it was answered and whether it has closed. */
interface Raw {
  socket: net.Socket;
  received: () => string;
  closed: () => boolean;
}

function rawConnect(server: TestServer, send: string): Promise<Raw> {
  return new Promise((resolve, reject) => {
    let data = '';
    let closed = false;
    const socket = net.connect({ host: '127.0.0.1', port: server.proxyPort }, () => {
      if (send) socket.write(send);
      resolve({ socket, received: () => data, closed: () => closed });
    });
    socket.setEncoding('latin1');
    socket.on('data', (c: string) => (data += c));
    socket.on('close', () => (closed = true));
    socket.once('error', (err) => (closed ? undefined : reject(err)));
  });
}

const HALF_HEAD = 'GET http://example.invalid/ HTTP/1.1\r\nHost: example.invalid\r\nX-Slow: ';

test('2,000 half request heads are closed with 408 after --proxy-header-timeout; the tunnel keeps serving', async () => {
  const server = await startServer({
    args: ['--proxy-header-timeout', '2s', '--proxy-max-connections-per-source', '0'],
  });
  await startClient(server, { tunnelName: 'hygiene' });
  const auth = { ...server.admin, tunnel: 'hygiene' };
  assert.equal((await proxyGet(server, auth, `${app.url}/hello`)).status, 200);

  const slow: Raw[] = [];
  for (let i = 0; i < 2000; i += 100) {
    slow.push(...(await Promise.all(Array.from({ length: 100 }, () => rawConnect(server, HALF_HEAD)))));
  }
  // During the attack (every connection still open: none has been answered yet), requests are served.
  const during = await proxyGet(server, auth, `${app.url}/hello`);
  assert.equal(during.status, 200, during.body);

  await waitFor('every half-head connection closed', () => slow.every((r) => r.closed()), 60_000);
  const answers = new Map<string, number>();
  for (const r of slow) {
    const line = r.received().split('\r\n')[0] ?? '';
    answers.set(line, (answers.get(line) ?? 0) + 1);
  }
  assert.deepEqual([...answers], [['HTTP/1.1 408 Request Timeout', 2000]]);
  assert.match(slow[0]!.received(), /x-sluice-error: header_timeout/i);

  // A connection that sends nothing at all is closed silently after the same time.
  const silent = await rawConnect(server, '');
  await waitFor('silent connection closed', () => silent.closed());
  assert.equal(silent.received(), '');
  assert.equal((await proxyGet(server, auth, `${app.url}/hello`)).status, 200);
});

test('--proxy-max-connections-per-source: one more connection is answered 429 too_many_connections', async () => {
  const server = await startServer({
    args: ['--proxy-max-connections-per-source', '3', '--proxy-header-timeout', '60s'],
  });
  await startClient(server, { tunnelName: 'limit' });
  const auth = { ...server.admin, tunnel: 'limit' };
  const held = await Promise.all([1, 2, 3].map(() => rawConnect(server, '')));
  const refused = await rawConnect(server, '');
  await waitFor('fourth connection closed', () => refused.closed());
  assert.match(refused.received(), /^HTTP\/1\.1 429 /);
  assert.match(refused.received(), /x-sluice-error: too_many_connections/i);
  const r = await proxyGet(server, auth, `${app.url}/hello`);
  assert.equal(r.error, 'too_many_connections');

  held[0]!.socket.destroy();
  await waitFor(
    'a slot is free again',
    async () => (await proxyGet(server, auth, `${app.url}/hello`)).status === 200,
  );
  for (const h of held) h.socket.destroy();
});

/** Sends wrong keys with distinct user names (so only the per-source count grows) until refused with 429. */
async function failUntilLimited(server: TestServer, forwardedFor: string): Promise<number> {
  for (let i = 0; i < 100; i++) {
    const r = await proxyGet(
      server,
      { username: `nobody${i}`, accessKey: 'wrong', tunnel: 't' },
      `${app.url}/`,
      {
        headers: { 'x-forwarded-for': forwardedFor },
      },
    );
    if (r.status === 429) {
      assert.equal(r.error, 'auth_rate_limited');
      return i;
    }
    assert.equal(r.status, 407);
  }
  assert.fail('failed authentications were never limited');
}

test('--trusted-proxies: behind a listed balancer the X-Forwarded-For client counts for failed authentications', async () => {
  const server = await startServer({ args: ['--trusted-proxies', '127.0.0.1,::1'] });
  await startClient(server, { tunnelName: 'lb' });
  const failures = await failUntilLimited(server, '198.51.100.7, 192.0.2.1');
  assert.ok(failures > 0);
  // The limited client is 192.0.2.1 (the right-most entry; the left one is the client's own claim).
  const other = await proxyGet(server, { ...server.admin, tunnel: 'lb' }, `${app.url}/hello`, {
    headers: { 'x-forwarded-for': '198.51.100.7, 192.0.2.2' },
  });
  assert.equal(other.status, 200, 'another client behind the balancer is not limited');
  const same = await proxyGet(server, { ...server.admin, tunnel: 'lb' }, `${app.url}/hello`, {
    headers: { 'x-forwarded-for': '192.0.2.1' },
  });
  assert.equal(same.error, 'auth_rate_limited', 'the limited client stays limited, whatever it prepends');
});

test('without --trusted-proxies X-Forwarded-For is ignored: the socket address is limited', async () => {
  const server = await startServer();
  await startClient(server, { tunnelName: 'direct' });
  await failUntilLimited(server, '192.0.2.1');
  const r = await proxyGet(server, { ...server.admin, tunnel: 'direct' }, `${app.url}/hello`, {
    headers: { 'x-forwarded-for': '192.0.2.99' },
  });
  assert.equal(r.error, 'auth_rate_limited');
});

test('--proxy-idle-timeout closes a CONNECT tunnel with no traffic', async () => {
  const server = await startServer({ args: ['--proxy-idle-timeout', '1s'] });
  await startClient(server, { tunnelName: 'idle', args: ['--tls-passthrough-domains', '.*'] });
  const echo = await startTcpEcho();
  const socket = await connectThroughProxy(server, `127.0.0.1:${echo.port}`, {
    ...server.admin,
    tunnel: 'idle',
  });
  let echoed = '';
  let closed = false;
  socket.setEncoding('utf8');
  socket.on('data', (c: string) => (echoed += c));
  // The kit's CONNECT socket is half-open capable: the proxy entry's close shows as 'end'.
  socket.on('end', () => (closed = true));
  socket.on('close', () => (closed = true));
  socket.on('error', () => undefined);
  socket.write('ping');
  await waitFor('echo', () => echoed === 'ping');
  assert.equal(closed, false);
  await waitFor('idle CONNECT closed by the proxy entry', () => closed);
});
