/**
 * The node link in one process, on real loopback sockets (docs/cluster.md): node A's registry holds a real tunnel
 * connection (a reversed HTTP/2 session to an in-process "sc" that answers every stream); node C reaches it
 * through a RemoteConnection over A's node-link server. Checks the carried request, the token, the refusal when
 * A has no connection of the tunnel, and that the registry prefers a local connection to a remote one.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import http2, { type ClientHttp2Stream, type IncomingHttpHeaders } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import {
  createNodeLinkServer,
  PeerLinks,
  type NodeLinkServer,
} from '../../../src/server/cluster/node-link.js';
import { RemoteConnection } from '../../../src/server/cluster/remote-connection.js';
import { createLogger } from '../../../src/observability/log.js';
import { loadOrCreatePki, type ServerPki } from '../../../src/server/pki/ca.js';
import { Registry } from '../../../src/server/registry/registry.js';
import { TunnelConnection } from '../../../src/server/registry/tunnel-connection.js';
import type { TunnelRecord } from '../../../src/server/store/types.js';

const log = createLogger({ level: 'error', sink: { write: () => undefined } });
const secret = randomBytes(32);
let dir = '';
let pki: ServerPki;
let sc: http2.Http2Server;
let link: NodeLinkServer;
let linkAddress = '';
const registryA = new Registry(1000);
const closers: (() => unknown)[] = [];

const record = (id: string): TunnelRecord => ({
  id,
  owner: 'alice',
  ownerId: 'acc-1',
  name: 't',
  status: 'running',
  tunnelPool: false,
  shared: '',
  metadata: {},
  tunnelDomains: [],
  directDomains: [],
  denyDomains: [],
  tlsResignDomains: [],
  tlsPassthroughDomains: [],
  tokenHash: '',
  creationTime: 0,
  lastConnected: null,
  shutdownTime: null,
  shutdownReason: null,
  userShutdown: null,
});

function listen(server: {
  listen: (p: number, h: string, cb: () => void) => unknown;
  address(): unknown;
}): Promise<number> {
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)),
  );
}

/** A tunnel connection of tunnel `id` in node A's registry, to the in-process sc. */
async function localConnection(id: string, port: number): Promise<TunnelConnection> {
  const session = http2.connect(`http://127.0.0.1:${port}`);
  await new Promise((r) => session.once('connect', r));
  const conn = new TunnelConnection(`conn-${id}`, id, session, 100, 'test', log);
  registryA.addConnection(record(id), conn);
  conn.usable = true;
  closers.push(() => conn.destroy());
  return conn;
}

function read(stream: ClientHttp2Stream): Promise<{ status: number; body: string; rst: number }> {
  return new Promise((resolve) => {
    let status = 0;
    let body = '';
    stream.on('response', (h: IncomingHttpHeaders) => (status = Number(h[':status'])));
    stream.on('data', (d: Buffer) => (body += d.toString()));
    stream.on('error', () => undefined);
    stream.on('close', () => resolve({ status, body, rst: stream.rstCode ?? 0 }));
  });
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sluice-node-link-'));
  pki = await loadOrCreatePki(dir, ['127.0.0.1']);
  // The "sc": answers every stream with what it got (method, path, body length) and an x-from header.
  sc = http2.createServer();
  sc.on('stream', (stream, h) => {
    let n = 0;
    stream.on('data', (d: Buffer) => (n += d.length));
    stream.on('end', () => {
      stream.respond({ ':status': 200, 'x-from': 'sc' });
      stream.end(
        `${String(h[':method'])} ${String(h[':path'])} ${n} node-headers:${String(h['x-sluice-node-auth'] ?? 'none')}`,
      );
    });
  });
  const scPort = await listen(sc);
  await localConnection('tun-a', scPort);
  link = createNodeLinkServer({
    registry: registryA,
    log,
    secret,
    tls: { cert: pki.server.certPem, key: pki.server.keyPem },
    onControl: () => Promise.resolve(true),
    onDrain: () => undefined,
  });
  linkAddress = `127.0.0.1:${await listen(link.server)}`;
});

after(async () => {
  for (const c of closers) await c();
  await link.close();
  sc.close();
  await rm(dir, { recursive: true, force: true });
});

const peers = (s: Buffer = secret): PeerLinks => {
  const p = new PeerLinks({
    caPem: pki.ca.certPem,
    secret: s,
    log,
    keepalive: { intervalMs: 60_000, timeoutMs: 10_000 },
    onPeerDown: () => undefined,
  });
  closers.push(() => p.close());
  return p;
};

test('a stream over the node link reaches the tunnel connection on the other node, body and all', async () => {
  const rc = new RemoteConnection('conn-tun-a', 'tun-a', 100, 'node-a', linkAddress, peers());
  const s = rc.request(
    { ':method': 'POST', ':scheme': 'http', ':authority': 'app:80', ':path': '/up' },
    false,
  );
  s.end(Buffer.alloc(100_000, 1));
  const r = await read(s);
  assert.equal(r.status, 200);
  // The node-link headers stay on the link: sc sees the request as the entry node sent it.
  assert.equal(r.body, 'POST /up 100000 node-headers:none');
  assert.equal(rc.openStreams, 0);
});

test('a wrong node-link token is refused with 401 and reaches no tunnel', async () => {
  const rc = new RemoteConnection('conn-tun-a', 'tun-a', 100, 'node-a', linkAddress, peers(randomBytes(32)));
  const r = await read(
    rc.request({ ':method': 'GET', ':scheme': 'http', ':authority': 'app', ':path': '/' }, true),
  );
  assert.equal(r.status, 401);
  assert.equal(r.body, '');
});

test('a tunnel with no connection on that node: the stream is refused (REFUSED_STREAM), so the sender routes again', async () => {
  const rc = new RemoteConnection('conn-x', 'tun-none', 100, 'node-a', linkAddress, peers());
  const r = await read(
    rc.request({ ':method': 'GET', ':scheme': 'http', ':authority': 'app', ':path': '/' }, true),
  );
  assert.equal(r.rst, http2.constants.NGHTTP2_REFUSED_STREAM);
  // Out of routing for a moment, as a refused tunnel stream.
  assert.equal(rc.usable, false);
  rc.destroy();
});

test('the registry routes to a local connection before a remote one, and to a remote one when none is local', async () => {
  const registry = new Registry(1000);
  const remote = new RemoteConnection('r1', 'tun-b', 100, 'node-a', linkAddress, peers());
  registry.addConnection(record('tun-b'), remote);
  assert.equal(await registry.acquire('acc-1', 't'), remote);
  const session = http2.connect(`http://127.0.0.1:${(sc.address() as AddressInfo).port}`);
  closers.push(() => session.destroy());
  const local = new TunnelConnection('l1', 'tun-b', session, 100, 'test', log);
  local.usable = true;
  registry.addConnection(record('tun-b'), local);
  assert.equal(await registry.acquire('acc-1', 't'), local);
  // The node link serves peers from local connections only.
  assert.equal(registry.localFor('tun-b'), local);
  local.destroy();
  assert.equal(registry.localFor('tun-b'), null);
  assert.equal(await registry.acquire('acc-1', 't'), remote);
});
