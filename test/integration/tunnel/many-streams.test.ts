/**
 * Issue 3, point 4: 10,000 concurrent idle CONNECT streams through one tunnel, each still echoing afterwards, and
 * --tunnel-max-concurrent-streams honoured (past total capacity a request waits, then gets 503, never hangs).
 * The echo server runs in its own process: this process holds the 10,000 browser-side sockets (ulimit -n 20000).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import net from 'node:net';
import { afterEach, test } from 'node:test';
import {
  cleanup,
  startClient,
  startServer,
  waitFor,
  waitUntilPeerRead,
  type TestServer,
} from '../../kit/index.js';

afterEach(cleanup);

const ECHO = `
const net = require('node:net');
const s = net.createServer({ allowHalfOpen: true }, (c) => { c.on('error', () => {}); c.pipe(c); });
s.maxConnections = 20000;
s.listen(0, '127.0.0.1', () => process.stdout.write(String(s.address().port) + '\\n'));
`;

async function startEcho(t: { after(fn: () => unknown): void }): Promise<number> {
  const child = spawn(process.execPath, ['-e', ECHO], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.after(() => child.kill('SIGKILL'));
  return new Promise((resolve) =>
    child.stdout.once('data', (d: Buffer) => resolve(Number(String(d).trim()))),
  );
}

/** CONNECT through the proxy; resolves with the socket after 200, or the status line otherwise. */
function connect(
  proxy: string,
  auth: string,
  target: string,
  onSocket?: (s: net.Socket) => void,
): Promise<net.Socket | string> {
  const [host, port] = proxy.split(':');
  return new Promise((resolve, reject) => {
    const s = net.connect(Number(port), host, () => {
      s.write(`CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\nProxy-Authorization: ${auth}\r\n\r\n`);
    });
    let buf = '';
    const onData = (d: Buffer): void => {
      buf += d.toString('latin1');
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      s.off('data', onData);
      const line = buf.slice(0, buf.indexOf('\r\n'));
      if (line.startsWith('HTTP/1.1 200')) resolve(s);
      else {
        resolve(buf);
        s.destroy();
      }
    };
    onSocket?.(s);
    s.on('data', onData);
    s.on('error', reject);
    // Closed without an answer: a failure to report, not a promise that never settles.
    s.on('close', () => resolve(`closed before a response (got ${JSON.stringify(buf)})`));
  });
}

function echoOnce(s: net.Socket, msg: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let got = '';
    const onData = (d: Buffer): void => {
      got += d.toString();
      if (got.length >= msg.length) {
        s.off('data', onData);
        resolve(got);
      }
    };
    s.on('data', onData);
    s.once('error', reject);
    s.once('close', () => reject(new Error(`closed after ${JSON.stringify(got)} of ${JSON.stringify(msg)}`)));
    s.write(msg);
  });
}

/** Basic proxy credentials of the server's admin for `tunnel`. */
function basic(server: TestServer, tunnel: string): string {
  const { username, accessKey } = server.admin;
  return 'Basic ' + Buffer.from(`${username};tunnel=${tunnel}:${accessKey}`).toString('base64');
}

async function inBatches<T>(n: number, size: number, fn: (i: number) => Promise<T>): Promise<T[]> {
  const out: T[] = [];
  for (let i = 0; i < n; i += size) {
    out.push(...(await Promise.all(Array.from({ length: Math.min(size, n - i) }, (_, j) => fn(i + j)))));
  }
  return out;
}

test('10,000 concurrent idle CONNECT streams through one tunnel all still echo', async (t) => {
  const port = await startEcho(t);
  const server = await startServer();
  await startClient(server, {
    tunnelName: 'many',
    args: [
      '--tunnel-connections',
      '4',
      '--tunnel-max-concurrent-streams',
      '4000',
      '--tls-passthrough-domains',
      '.*',
    ],
  });
  const auth = basic(server, 'many');
  const N = 10_000;
  const sockets: net.Socket[] = [];
  t.after(() => sockets.forEach((s) => s.destroy()));
  const opened = await inBatches(N, 500, async () => {
    const s = await connect(server.info.proxy_address, auth, `127.0.0.1:${port}`);
    if (typeof s !== 'string') sockets.push(s);
    return s;
  });
  const failed = opened.filter((s) => typeof s === 'string');
  assert.equal(failed.length, 0, `CONNECT failures: ${String(failed[0])}`);
  assert.equal(sockets.length, N);
  // All idle at once; now every one of them must still carry bytes, in order.
  const echoes = await inBatches(N, 1000, (i) => echoOnce(sockets[i]!, `ping-${i};`));
  assert.ok(echoes.every((e, i) => e === `ping-${i};`));
});

/** A server (with `--queue-timeout`) and sc for tunnel `name` with one connection of `streams` streams. */
async function oneConnectionTunnel(name: string, queueTimeout: string, streams: number) {
  const server = await startServer({ args: ['--queue-timeout', queueTimeout] });
  await startClient(server, {
    tunnelName: name,
    args: [
      '--tunnel-connections',
      '1',
      '--tunnel-max-concurrent-streams',
      String(streams),
      '--tls-passthrough-domains',
      '.*',
    ],
  });
  const auth = basic(server, name);
  return { server, auth };
}

test('past total stream capacity a request waits for a free slot, then gets 503 tunnel_capacity', async (t) => {
  const port = await startEcho(t);
  const { server, auth } = await oneConnectionTunnel('small', '1s', 2);
  const target = `127.0.0.1:${port}`;
  const a = await connect(server.info.proxy_address, auth, target);
  const b = await connect(server.info.proxy_address, auth, target);
  assert.ok(typeof a !== 'string' && typeof b !== 'string');
  t.after(() => {
    a.destroy();
    b.destroy();
  });
  // Third: no slot within the queue timeout.
  const c = await connect(server.info.proxy_address, auth, target);
  assert.equal(typeof c, 'string');
  assert.match(c as string, /^HTTP\/1\.1 503/);
  assert.match(c as string, /X-Sluice-Error: tunnel_capacity/i);
  // Fourth waits and gets the slot that closing one stream frees.
  let dSocket: net.Socket | undefined;
  const d = connect(server.info.proxy_address, auth, target, (s) => (dSocket = s));
  // The server has read the CONNECT (credentials already cached: it is now in the queue) before a slot frees.
  await waitFor('the fourth CONNECT to be sent', () => dSocket);
  await waitUntilPeerRead(dSocket!);
  a.destroy();
  const got = await d;
  assert.notEqual(typeof got, 'string', `queued CONNECT got: ${typeof got === 'string' ? got : 'socket'}`);
  assert.equal(await echoOnce(got as net.Socket, 'queued'), 'queued');
  (got as net.Socket).destroy();
});

test('a browser that leaves while its CONNECT waits in the queue leaves no stream open, and the slot is reused', async (t) => {
  let open = 0;
  const target = net.createServer((c) => {
    open++;
    c.on('error', () => undefined);
    c.on('close', () => open--);
    c.pipe(c);
  });
  await new Promise<void>((r) => target.listen(0, '127.0.0.1', r));
  t.after(() => target.close());
  const { server, auth } = await oneConnectionTunnel('queue', '5s', 1);
  const to = `127.0.0.1:${(target.address() as net.AddressInfo).port}`;
  const first = await connect(server.info.proxy_address, auth, to);
  assert.notEqual(typeof first, 'string');

  // A second CONNECT waits for the only stream; its browser gives up before one is free. (The proxy may still
  // open a stream for it, as it cannot tell a silent browser has gone, but must close it again.)
  const [host, port] = server.info.proxy_address.split(':');
  const leaver = net.connect(Number(port), host, () =>
    leaver.write(`CONNECT ${to} HTTP/1.1\r\nHost: ${to}\r\nProxy-Authorization: ${auth}\r\n\r\n`),
  );
  leaver.on('error', () => undefined);
  await new Promise<void>((r) => leaver.once('connect', () => r()));
  await waitUntilPeerRead(leaver); // the proxy has its CONNECT: it waits in the queue
  leaver.destroy();
  (first as net.Socket).destroy(); // frees the stream the leaver was waiting for
  // Throws (fails the test) if a target connection stays open for the browser that had gone.
  await waitFor('no target connection left open', () => open === 0 || undefined, 10_000);

  const next = await connect(server.info.proxy_address, auth, to);
  assert.notEqual(
    typeof next,
    'string',
    `the freed stream is usable: ${typeof next === 'string' ? next : ''}`,
  );
  assert.equal(await echoOnce(next as net.Socket, 'still'), 'still');
  (next as net.Socket).destroy();
});
