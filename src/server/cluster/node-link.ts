/**
 * The node link: HTTP/2 over TLS between the nodes of a cluster (docs/cluster.md, decisions/0015).
 *
 *   node C (has the browser's request)                      node A (has a connection of the tunnel's sc)
 *   RemoteConnection.request(h) ── one stream ───────────>  NodeLinkServer: registry.localFor(tunnel)
 *     h + x-sluice-node-tunnel + x-sluice-node-auth          └─ the same stream on A's tunnel connection
 *   <──────────── response head, body, resets ────────────   (piped both ways, one to one)
 *
 * One session per peer node, opened on first use. The server's certificate comes from the shared CA, which the
 * dialling side verifies (not the host name: node addresses are pod addresses that change); every stream carries
 * a token derived from the shared server secret, compared in constant time. A node with no usable connection of
 * the tunnel refuses the stream (REFUSED_STREAM) and the sending node routes again.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import http2, {
  type ClientHttp2Session,
  type ClientHttp2Stream,
  type Http2SecureServer,
  type IncomingHttpHeaders,
  type OutgoingHttpHeaders,
  type ServerHttp2Session,
  type ServerHttp2Stream,
} from 'node:http2';
import type { Logger } from '../../observability/log.js';
import { coalescingPipe } from '../../protocol/coalescing-pipe.js';
import {
  CONNECTION_WINDOW,
  MAX_FRAME_SIZE,
  MAX_SESSION_MEMORY_MB,
  STREAM_WINDOW,
  type ControlOp,
} from '../../protocol/tunnel-protocol.js';
import type { Registry } from '../registry/registry.js';

const { NGHTTP2_CANCEL, NGHTTP2_REFUSED_STREAM, NGHTTP2_INTERNAL_ERROR, NGHTTP2_NO_ERROR } = http2.constants;

export const NodeHeader = {
  tunnel: 'x-sluice-node-tunnel',
  auth: 'x-sluice-node-auth',
  /** A management message instead of a tunnel stream: `control` (pass a control message on) or `drain`. */
  op: 'x-sluice-node-op',
} as const;

/** The node link's shared token: HMAC-SHA256 of a fixed label under the server secret, hex. */
export function nodeLinkToken(secret: Buffer): string {
  return createHmac('sha256', secret).update('sluice node link v1').digest('hex');
}

function sameToken(given: unknown, expected: Buffer): boolean {
  if (typeof given !== 'string') return false;
  const g = Buffer.from(given);
  return g.length === expected.length && timingSafeEqual(g, expected);
}

/** The headers of a node-link stream as the tunnel stream on the local connection needs them. */
export function tunnelStreamHeaders(h: IncomingHttpHeaders): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  const connect = h[':method'] === 'CONNECT';
  for (const k of Object.keys(h)) {
    if (k.startsWith('x-sluice-node-')) continue;
    if (k.startsWith(':')) {
      // CONNECT carries only :method and :authority; other requests all four.
      if (connect ? k !== ':method' && k !== ':authority' : !/^:(method|scheme|authority|path)$/.test(k))
        continue;
    }
    out[k] = h[k];
  }
  return out;
}

export interface NodeLinkServerDeps {
  registry: Registry;
  log: Logger;
  secret: Buffer;
  tls: { cert: string; key: string };
  /** What to do with a management message for a tunnel (src/server/cluster/cluster.ts). */
  onControl(tunnelId: string, op: ControlOp, body: unknown): Promise<boolean>;
  onDrain(tunnelId: string): void;
}

export interface NodeLinkServer {
  server: Http2SecureServer;
  /** Streams from peers now being carried. */
  inFlight(): number;
  /** GOAWAY to every peer session: no new streams; those in flight finish. */
  drain(): void;
  close(): Promise<void>;
}

export function createNodeLinkServer(deps: NodeLinkServerDeps): NodeLinkServer {
  const token = Buffer.from(nodeLinkToken(deps.secret));
  const sessions = new Set<ServerHttp2Session>();
  let inFlight = 0;
  let draining = false;
  const server = http2.createSecureServer({
    cert: deps.tls.cert,
    key: deps.tls.key,
    minVersion: 'TLSv1.2',
    settings: {
      initialWindowSize: STREAM_WINDOW,
      maxFrameSize: MAX_FRAME_SIZE,
      maxConcurrentStreams: 100_000,
    },
    maxSessionMemory: MAX_SESSION_MEMORY_MB,
  });
  server.on('session', (session: ServerHttp2Session) => {
    sessions.add(session);
    session.once('close', () => sessions.delete(session));
    session.on('error', (err) => deps.log.debug('node link session error', { error: err }));
    session.once('connect', () => session.setLocalWindowSize(CONNECTION_WINDOW));
    if (draining) session.close();
  });
  server.on('tlsClientError', (err) => deps.log.debug('node link TLS error', { error: err }));
  server.on('stream', (stream: ServerHttp2Stream, headers: IncomingHttpHeaders) => {
    stream.on('error', () => undefined);
    if (!sameToken(headers[NodeHeader.auth], token)) {
      deps.log.warn('node link stream refused: bad token', { remote: stream.session?.socket?.remoteAddress });
      stream.respond({ ':status': 401 }, { endStream: true });
      return;
    }
    const tunnelId = headers[NodeHeader.tunnel];
    if (typeof tunnelId !== 'string' || !tunnelId) {
      stream.respond({ ':status': 400 }, { endStream: true });
      return;
    }
    const op = headers[NodeHeader.op];
    if (typeof op === 'string') return management(deps, stream, tunnelId, op);
    inFlight++;
    stream.once('close', () => inFlight--);
    carry(deps, stream, headers, tunnelId);
  });
  return {
    server,
    inFlight: () => inFlight,
    drain() {
      draining = true;
      for (const s of sessions) if (!s.closed) s.close();
    },
    close() {
      return new Promise((resolve) => {
        server.close(() => resolve());
        for (const s of sessions) s.destroy();
      });
    },
  };
}

function management(deps: NodeLinkServerDeps, stream: ServerHttp2Stream, tunnelId: string, op: string): void {
  const chunks: Buffer[] = [];
  let size = 0;
  stream.on('data', (c: Buffer) => {
    if ((size += c.length) <= 65536) chunks.push(c);
  });
  stream.on('end', () => {
    const reply = (ok: boolean): void => {
      if (!stream.closed) stream.respond({ ':status': ok ? 200 : 409 }, { endStream: true });
    };
    if (op === 'drain') {
      deps.onDrain(tunnelId);
      return reply(true);
    }
    let msg: { op?: unknown; body?: unknown } = {};
    try {
      msg = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as typeof msg;
    } catch {
      return reply(false);
    }
    if (op !== 'control' || (msg.op !== 'ready' && msg.op !== 'shutdown')) return reply(false);
    deps.onControl(tunnelId, msg.op, msg.body).then(reply, () => reply(false));
  });
}

/** One peer's stream onto one of this node's tunnel connections, both ways. */
function carry(
  deps: NodeLinkServerDeps,
  stream: ServerHttp2Stream,
  headers: IncomingHttpHeaders,
  tunnelId: string,
): void {
  const conn = deps.registry.localFor(tunnelId);
  if (!conn) {
    stream.close(NGHTTP2_REFUSED_STREAM);
    return;
  }
  let out: ClientHttp2Stream;
  try {
    out = conn.request(tunnelStreamHeaders(headers), stream.endAfterHeaders);
  } catch {
    stream.close(NGHTTP2_REFUSED_STREAM);
    return;
  }
  out.on('error', () => undefined);
  if (!stream.endAfterHeaders) stream.pipe(out);
  let responded = false;
  out.on('response', (h: IncomingHttpHeaders) => {
    const head: OutgoingHttpHeaders = {};
    for (const k of Object.keys(h)) if (k === ':status' || !k.startsWith(':')) head[k] = h[k];
    try {
      stream.respond(head);
      responded = true;
    } catch {
      out.close(NGHTTP2_CANCEL);
      return;
    }
    coalescingPipe(out, stream);
  });
  out.on('close', () => {
    if (stream.closed || stream.destroyed) return;
    const code = out.rstCode ?? NGHTTP2_NO_ERROR;
    // A clean end was piped; a reset (or a session that died) passes on as a reset, REFUSED_STREAM included,
    // so the sending node can route a refused request again.
    if (!responded) stream.close(code === NGHTTP2_NO_ERROR ? NGHTTP2_INTERNAL_ERROR : code);
    else if (code !== NGHTTP2_NO_ERROR) stream.close(code);
  });
  stream.on('close', () => {
    if (!out.closed) out.close(NGHTTP2_CANCEL);
  });
}

export interface PeerLinksOptions {
  caPem: string;
  secret: Buffer;
  log: Logger;
  /** Keepalive PING on every peer session; a peer silent for timeoutMs is dropped. */
  keepalive: { intervalMs: number; timeoutMs: number };
  /** A peer's session went (closed, failed to connect, GOAWAY): `draining` when the peer said goodbye. */
  onPeerDown(nodeId: string, draining: boolean): void;
}

interface Peer {
  address: string;
  session: ClientHttp2Session;
  keepalive: NodeJS.Timeout;
}

/** This node's sessions to its peers, one each. */
export class PeerLinks {
  private readonly peers = new Map<string, Peer>();
  readonly token: string;
  private closing = false;

  constructor(private readonly opts: PeerLinksOptions) {
    this.token = nodeLinkToken(opts.secret);
  }

  /** The session to `nodeId` at `address`, opened now if there is none (or the address changed). */
  session(nodeId: string, address: string): ClientHttp2Session {
    const have = this.peers.get(nodeId);
    if (have && have.address === address && !have.session.closed && !have.session.destroyed)
      return have.session;
    if (have) this.drop(nodeId, have);
    const session = http2.connect(`https://${address}`, {
      ca: this.opts.caPem,
      // The peer's certificate must come from the shared CA; its names are not checked (addresses change).
      checkServerIdentity: () => undefined,
      minVersion: 'TLSv1.2',
      settings: { initialWindowSize: STREAM_WINDOW, maxFrameSize: MAX_FRAME_SIZE, enablePush: false },
      maxSessionMemory: MAX_SESSION_MEMORY_MB,
      peerMaxConcurrentStreams: 100_000,
    });
    const peer: Peer = { address, session, keepalive: this.startKeepalive(session) };
    this.peers.set(nodeId, peer);
    let draining = false;
    session.once('connect', () => session.setLocalWindowSize(CONNECTION_WINDOW));
    session.on('error', (err: NodeJS.ErrnoException) =>
      this.opts.log.debug('node link error', { node: nodeId, error: err.code ?? err.message }),
    );
    session.once('goaway', () => {
      draining = true;
      this.opts.onPeerDown(nodeId, true);
    });
    session.once('close', () => {
      clearInterval(peer.keepalive);
      if (this.peers.get(nodeId) === peer) this.peers.delete(nodeId);
      if (!this.closing && !draining) this.opts.onPeerDown(nodeId, false);
    });
    return session;
  }

  private startKeepalive(session: ClientHttp2Session): NodeJS.Timeout {
    let waiting = false;
    const t = setInterval(() => {
      if (waiting || session.destroyed || !session.socket) return;
      waiting = true;
      const deadline = setTimeout(() => session.destroy(), this.opts.keepalive.timeoutMs);
      try {
        session.ping((err) => {
          clearTimeout(deadline);
          waiting = false;
          if (err && !session.destroyed) session.destroy();
        });
      } catch {
        clearTimeout(deadline);
        waiting = false;
      }
    }, this.opts.keepalive.intervalMs);
    t.unref();
    return t;
  }

  private drop(nodeId: string, peer: Peer): void {
    clearInterval(peer.keepalive);
    this.peers.delete(nodeId);
    peer.session.destroy();
  }

  /** Opens a stream to `nodeId` with the node-link headers added. */
  request(
    nodeId: string,
    address: string,
    tunnelId: string,
    headers: OutgoingHttpHeaders,
    endStream: boolean,
  ): ClientHttp2Stream {
    return this.session(nodeId, address).request(
      { ...headers, [NodeHeader.tunnel]: tunnelId, [NodeHeader.auth]: this.token },
      { endStream },
    );
  }

  /** A management message to a peer; resolves true when it answered 200. */
  message(
    nodeId: string,
    address: string,
    tunnelId: string,
    op: 'control' | 'drain',
    body: unknown,
    timeoutMs = 5000,
  ): Promise<boolean> {
    return new Promise((resolve) => {
      let stream: ClientHttp2Stream;
      try {
        stream = this.session(nodeId, address).request({
          ':method': 'POST',
          ':path': `/${op}`,
          [NodeHeader.tunnel]: tunnelId,
          [NodeHeader.auth]: this.token,
          [NodeHeader.op]: op,
        });
      } catch {
        return resolve(false);
      }
      const timer = setTimeout(() => {
        stream.close(NGHTTP2_CANCEL);
        resolve(false);
      }, timeoutMs);
      stream.on('response', (h) => {
        clearTimeout(timer);
        resolve(h[':status'] === 200);
        stream.resume();
      });
      stream.on('error', () => undefined);
      stream.on('close', () => {
        clearTimeout(timer);
        resolve(false);
      });
      stream.end(Buffer.from(JSON.stringify(body ?? {})));
    });
  }

  close(): void {
    this.closing = true;
    for (const [id, p] of [...this.peers]) this.drop(id, p);
  }
}
