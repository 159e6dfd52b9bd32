/**
 * The tunnel edge: where `sc` connections arrive.
 *
 *   sc ──TLS──> edge: GET /tunnel/v1/connect, Upgrade: sluice-tunnel/1, Authorization: Bearer <id>.<token>
 *        edge: token checked against the stored keyed hash, tunnel must be running
 *        (x-sluice-protocol-version outside MIN..PROTOCOL_VERSION: 426 unsupported_protocol; absent = 1)
 *        <── 101, then HTTP/2 (edge = client) ── control "ready" once registered ──> sc logs "you may start"
 *
 * Anything wrong in the handshake gets a JSON 4xx and the socket closes; nothing is registered.
 */
import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import http2 from 'node:http2';
import https from 'node:https';
import type { Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import { randomUUID } from 'node:crypto';
import type { Logger } from '../../observability/log.js';
import {
  CONNECT_PATH,
  HandshakeHeader,
  MAX_FRAME_SIZE,
  MAX_SESSION_MEMORY_MB,
  STREAM_WINDOW,
  CONNECTION_WINDOW,
  UPGRADE_TOKEN,
  MIN_PROTOCOL_VERSION,
  PROTOCOL_VERSION,
  parseBearer,
  parseProtocolVersion,
} from '../../protocol/tunnel-protocol.js';
import { StoreUnavailableError, type Store } from '../store/types.js';
import type { Registry } from '../registry/registry.js';
import { TunnelConnection, type KeepaliveConfig } from '../registry/tunnel-connection.js';

export interface EdgeDeps {
  store: Store;
  registry: Registry;
  log: Logger;
  hashToken: (token: string) => string;
  /** Hashes of a token under secrets before a rotate-secret: tokens issued before it still connect. */
  previousTokenHashes?: (token: string) => string[];
  keepalive: KeepaliveConfig;
  tls: { cert: string; key: string };
  /** In a cluster: true while this node drains (new tunnel connections go to other nodes). */
  draining?: () => boolean;
}

function reject(socket: Duplex, status: number, code: string, message: string): void {
  const body = JSON.stringify({ error: message, code });
  const reason = {
    400: 'Bad Request',
    401: 'Unauthorized',
    404: 'Not Found',
    410: 'Gone',
    426: 'Upgrade Required',
    503: 'Service Unavailable',
  };
  socket.end(
    `HTTP/1.1 ${status} ${reason[status as keyof typeof reason] ?? 'Error'}\r\n` +
      `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}

function sameHash(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

export function createEdge(deps: EdgeDeps): https.Server {
  const { log } = deps;
  const server = https.createServer({
    cert: deps.tls.cert,
    key: deps.tls.key,
    minVersion: 'TLSv1.2',
    ALPNProtocols: [UPGRADE_TOKEN, 'http/1.1'],
    headersTimeout: 10_000,
    requestTimeout: 15_000,
  });
  server.on('request', (_req, res) => {
    res.writeHead(426, { 'content-type': 'application/json', upgrade: UPGRADE_TOKEN });
    res.end(
      JSON.stringify({
        error: `this is the tunnel edge; connect with Upgrade: ${UPGRADE_TOKEN}`,
        code: 'upgrade_required',
      }),
    );
  });
  server.on('upgrade', (req: IncomingMessage, socket: Duplex) => {
    handshake(deps, req, socket as TLSSocket).catch((err: unknown) => {
      // The store cannot be reached: the client redials later, as after any 5xx.
      if (err instanceof StoreUnavailableError) {
        log.warn('tunnel handshake refused: store unavailable', { error: err.message });
        return reject(socket, 503, 'store_unavailable', 'the store is unavailable; retry later');
      }
      log.error('tunnel handshake failed', { error: err });
      reject(socket, 500, 'internal', 'internal error');
    });
  });
  server.on('tlsClientError', (err) => log.debug('edge TLS error', { error: err }));
  return server;
}

async function handshake(deps: EdgeDeps, req: IncomingMessage, socket: TLSSocket): Promise<void> {
  const { log, store, registry } = deps;
  const remote = `${socket.remoteAddress}:${socket.remotePort}`;
  if (req.url !== CONNECT_PATH || req.headers.upgrade?.toLowerCase() !== UPGRADE_TOKEN) {
    return reject(
      socket,
      400,
      'bad_handshake',
      `expected GET ${CONNECT_PATH} with Upgrade: ${UPGRADE_TOKEN}`,
    );
  }
  if (deps.draining?.()) {
    return reject(socket, 503, 'node_draining', 'this server node is draining: connect to another node');
  }
  const version = parseProtocolVersion(req.headers[HandshakeHeader.protocolVersion]);
  if (version === null || version < MIN_PROTOCOL_VERSION || version > PROTOCOL_VERSION) {
    const given = String(req.headers[HandshakeHeader.protocolVersion]).slice(0, 32);
    log.info('tunnel connection refused: unsupported protocol version', { remote, version: given });
    return reject(
      socket,
      426,
      'unsupported_protocol',
      `tunnel protocol version ${JSON.stringify(given)} is not supported: this server speaks versions ` +
        `${MIN_PROTOCOL_VERSION} to ${PROTOCOL_VERSION}; use an sc and sc-server of compatible releases`,
    );
  }
  const creds = parseBearer(req.headers.authorization);
  if (!creds) return reject(socket, 401, 'bad_token', 'missing or malformed tunnel token');
  const record = await store.getTunnel(creds.tunnelId);
  const hashes = [deps.hashToken(creds.token), ...(deps.previousTokenHashes?.(creds.token) ?? [])];
  if (!record || !hashes.some((h) => sameHash(record.tokenHash, h))) {
    log.info('tunnel connection refused: bad token', { remote, tunnel: creds.tunnelId });
    return reject(socket, 401, 'bad_token', 'unknown tunnel or wrong token');
  }
  if (record.status !== 'running') {
    return reject(
      socket,
      410,
      'tunnel_terminated',
      `tunnel ${record.id} was stopped: ${record.shutdownReason ?? 'unknown'}`,
    );
  }
  const maxStreams = Math.min(Math.max(Number(req.headers[HandshakeHeader.maxStreams]) || 256, 1), 1_000_000);
  const connId = randomUUID();
  // The session may only take over the socket once the 101 is fully written: nghttp2 asserts when it inherits
  // a TLS write still in progress.
  await new Promise<void>((resolve, rejectWrite) => {
    socket.write(
      `HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: ${UPGRADE_TOKEN}\r\n` +
        `${HandshakeHeader.connId}: ${connId}\r\n\r\n`,
      (err) => (err ? rejectWrite(err) : resolve()),
    );
  });
  socket.setNoDelay(true);
  const session = http2.connect(`http://tunnel-${record.id}`, {
    createConnection: () => socket,
    settings: { initialWindowSize: STREAM_WINDOW, maxFrameSize: MAX_FRAME_SIZE, enablePush: false },
    maxSessionMemory: MAX_SESSION_MEMORY_MB,
    peerMaxConcurrentStreams: maxStreams,
  });
  const conn = new TunnelConnection(connId, record.id, session, maxStreams, remote, log);
  session.on('connect', () => {
    session.setLocalWindowSize(CONNECTION_WINDOW);
  });
  registry.addConnection(record, conn);
  conn.startKeepalive(deps.keepalive);
  const now = Math.floor(Date.now() / 1000);
  // Bookkeeping (last_connected): a full or read-only data dir must not stop a tunnel from reconnecting.
  await store
    .markTunnelConnected(record.id, now)
    .catch((err: unknown) =>
      log.warn('cannot record the connection time', { tunnel: record.id, error: err }),
    );
  // Routable before the client hears "ready": a request sent the moment it logs "you may start your tests" must
  // find this connection usable.
  conn.usable = true;
  conn.onChange();
  const acked = await conn.control('ready', { tunnel_id: record.id, conn_id: connId });
  if (!acked || conn.closed) {
    conn.destroy();
    return;
  }
  log.info('tunnel connection established', {
    tunnel: record.id,
    name: record.name,
    owner: record.owner,
    conn: connId,
    remote,
    index: req.headers[HandshakeHeader.connIndex],
  });
  session.once('close', () =>
    log.info('tunnel connection closed', { tunnel: record.id, conn: connId, remote }),
  );
}
