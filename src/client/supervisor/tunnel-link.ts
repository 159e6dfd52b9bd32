/**
 * One tunnel connection of `sc`, kept up for the life of the tunnel:
 *
 *   dial TLS ──> GET /tunnel/v1/connect (Upgrade) ──> 101 ──> HTTP/2 server session on the same socket
 *   ──> server registers us and sends control "ready" ──> streams arrive ──> socket dies ──> backoff, redial
 *
 * A PING every keepalive interval catches half-open connections: no answer within the timeout and the session
 * is destroyed, which fails its streams at once instead of letting them hang.
 */
import http2, { type IncomingHttpHeaders, type ServerHttp2Session, type ServerHttp2Stream } from 'node:http2';
import { isIP } from 'node:net';
import tls, { type SecureContext, type TLSSocket } from 'node:tls';
import type { Logger } from '../../observability/log.js';
import { connectVia, type UpstreamProxy } from '../egress/upstream.js';
import {
  CONNECTION_WINDOW,
  CONNECT_PATH,
  CONTROL_SCHEME,
  HandshakeHeader,
  MAX_FRAME_SIZE,
  MAX_SESSION_MEMORY_MB,
  PROTOCOL_VERSION,
  STREAM_WINDOW,
  UPGRADE_TOKEN,
  bearer,
  type ShutdownMessage,
} from '../../protocol/tunnel-protocol.js';

/**
 * The protocol version this sc announces. SLUICE_TEST_PROTOCOL_VERSION replaces it: for tests only (to play an
 * sc of another release against a real server), not a user setting (docs/operations.md).
 */
function handshakeProtocolVersion(): string {
  const forced = process.env['SLUICE_TEST_PROTOCOL_VERSION'];
  return forced && /^[0-9]{1,6}$/.test(forced) ? forced : String(PROTOCOL_VERSION);
}

export interface LinkConfig {
  /** Where this link dials now (one of `nodes` in turn, when there are nodes). */
  edgeAddress: string;
  /**
   * A cluster's node edge addresses (the created tunnel's `nodes`): link i dials node i mod n first and moves
   * to the next one whenever its connection ends or fails, so the links spread over the nodes and leave one that
   * went away. Empty: always `edgeAddress` (a single server, or a balancer in front of the nodes).
   */
  nodes?: string[];
  tunnelId: string;
  token: string;
  index: number;
  maxStreams: number;
  /** Trust store (system roots plus --cacert-file), built once and shared by every link. */
  secureContext: SecureContext;
  keepaliveIntervalMs: number;
  keepaliveTimeoutMs: number;
  handshakeTimeoutMs: number;
  clientVersion: string;
  /** --http-tls-keylog-file: called with each NSS key log line of the tunnel connection's TLS. */
  keylog?: (line: Buffer) => void;
  /** --proxy-sauce: the link is a CONNECT tunnel through this proxy, with TLS end to end inside it. */
  proxy?: UpstreamProxy;
}

export interface LinkEvents {
  /** The TLS + upgrade handshake finished and the HTTP/2 session exists. */
  connected(link: TunnelLink): void;
  ready(link: TunnelLink): void;
  down(link: TunnelLink, reason: string): void;
  shutdown(msg: ShutdownMessage): void;
  /** The server refused the handshake for good (tunnel gone or token wrong). */
  refused(status: number, code: string, message: string): void;
  stream(stream: ServerHttp2Stream, headers: IncomingHttpHeaders): void;
}

export class HandshakeError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export function splitHostPort(addr: string): { host: string; port: number } {
  const m = /^(\[[^\]]+\]|[^:]+):(\d+)$/.exec(addr);
  if (!m) throw new Error(`bad address "${addr}"`);
  return { host: m[1]!.replace(/^\[|\]$/g, ''), port: Number(m[2]) };
}

/** Dials, upgrades and returns the socket with any bytes read past the 101 response pushed back. */
async function connectAndUpgrade(cfg: LinkConfig): Promise<TLSSocket> {
  const { host, port } = splitHostPort(cfg.edgeAddress);
  const raw = cfg.proxy
    ? await connectVia(cfg.proxy, host, port, {
        timeoutMs: cfg.handshakeTimeoutMs,
        secureContext: cfg.secureContext,
      })
    : undefined;
  return new Promise((resolve, reject) => {
    const socket = tls.connect({
      ...(raw ? { socket: raw } : { host, port }),
      servername: isIP(host) ? undefined : host,
      secureContext: cfg.secureContext,
      minVersion: 'TLSv1.2',
      ALPNProtocols: [UPGRADE_TOKEN],
    });
    if (cfg.keylog) socket.on('keylog', cfg.keylog);
    const timer = setTimeout(() => {
      socket.destroy(
        Object.assign(new Error(`handshake with ${cfg.edgeAddress} timed out`), { code: 'ETIMEDOUT' }),
      );
    }, cfg.handshakeTimeoutMs);
    let buf = Buffer.alloc(0);
    const onData = (chunk: Buffer): void => {
      buf = Buffer.concat([buf, chunk]);
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) {
        if (buf.length > 16384) socket.destroy(new Error('oversized handshake response'));
        return;
      }
      socket.off('data', onData);
      socket.pause();
      clearTimeout(timer);
      const head = buf.subarray(0, end).toString('latin1');
      const rest = buf.subarray(end + 4);
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0);
      if (status === 101) {
        socket.off('error', reject);
        if (rest.length) socket.unshift(rest);
        return resolve(socket);
      }
      let code = 'bad_handshake';
      let message = head.split('\r\n')[0] ?? 'no status line';
      try {
        const body = JSON.parse(rest.toString('utf8')) as { code?: string; error?: string };
        code = body.code ?? code;
        message = body.error ?? message;
      } catch {
        /* keep the status line */
      }
      socket.destroy();
      reject(new HandshakeError(status, code, message));
    };
    socket.once('secureConnect', () => {
      socket.setNoDelay(true);
      socket.write(
        `GET ${CONNECT_PATH} HTTP/1.1\r\nHost: ${cfg.edgeAddress}\r\nConnection: Upgrade\r\nUpgrade: ${UPGRADE_TOKEN}\r\n` +
          `Authorization: ${bearer(cfg.tunnelId, cfg.token)}\r\n${HandshakeHeader.connIndex}: ${cfg.index}\r\n` +
          `${HandshakeHeader.maxStreams}: ${cfg.maxStreams}\r\n${HandshakeHeader.clientVersion}: ${cfg.clientVersion}\r\n` +
          `${HandshakeHeader.protocolVersion}: ${handshakeProtocolVersion()}\r\n\r\n`,
      );
    });
    socket.on('data', onData);
    socket.on('error', (err: Error) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

export class TunnelLink {
  session: ServerHttp2Session | null = null;
  ready = false;
  activeStreams = 0;
  private keepalive: NodeJS.Timeout | undefined;
  private socket: TLSSocket | null = null;
  private readonly done = { read: 0, written: 0 };

  /** Bytes received and sent over this link's connections so far, for the tunnel byte metrics. */
  bytes(): { read: number; written: number } {
    return {
      read: this.done.read + (this.socket?.bytesRead ?? 0),
      written: this.done.written + (this.socket?.bytesWritten ?? 0),
    };
  }

  constructor(
    readonly cfg: LinkConfig,
    private readonly events: LinkEvents,
    private readonly log: Logger,
  ) {}

  /** Connects once; resolves when the session is closed again (with the reason). */
  async run(): Promise<string> {
    const socket = await connectAndUpgrade(this.cfg);
    this.socket = socket;
    const session = http2.performServerHandshake(socket, {
      settings: {
        initialWindowSize: STREAM_WINDOW,
        maxConcurrentStreams: this.cfg.maxStreams,
        maxFrameSize: MAX_FRAME_SIZE,
      },
      maxSessionMemory: MAX_SESSION_MEMORY_MB,
    });
    this.session = session;
    this.events.connected(this);
    socket.resume();
    session.setLocalWindowSize(CONNECTION_WINDOW);
    this.startKeepalive(session);
    session.on('stream', (stream, headers) => {
      if (headers[':scheme'] === CONTROL_SCHEME) return this.control(stream, headers);
      this.activeStreams++;
      stream.once('close', () => this.activeStreams--);
      this.events.stream(stream, headers);
    });
    return new Promise((resolve) => {
      let reason = 'closed';
      session.on('error', (err: NodeJS.ErrnoException) => (reason = err.code ?? err.message));
      session.on('goaway', (code) => (reason = `server sent GOAWAY (${code})`));
      session.once('close', () => {
        clearInterval(this.keepalive);
        this.done.read += socket.bytesRead;
        this.done.written += socket.bytesWritten;
        this.socket = null;
        const wasReady = this.ready;
        this.ready = false;
        this.session = null;
        if (wasReady) this.events.down(this, reason);
        resolve(reason);
      });
    });
  }

  private control(stream: ServerHttp2Stream, headers: IncomingHttpHeaders): void {
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('error', () => undefined);
    stream.on('end', () => {
      let body: unknown = {};
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}');
      } catch {
        /* ignored: the op decides */
      }
      stream.respond({ ':status': 200 });
      stream.end();
      if (headers[':path'] === '/ready') {
        this.ready = true;
        this.events.ready(this);
      } else if (headers[':path'] === '/shutdown') {
        this.events.shutdown(body as ShutdownMessage);
      } else {
        this.log.debug('unknown control message', { path: headers[':path'] });
      }
    });
  }

  private startKeepalive(session: ServerHttp2Session): void {
    if (this.cfg.keepaliveIntervalMs <= 0) return;
    let waiting = false;
    this.keepalive = setInterval(() => {
      if (waiting || session.destroyed) return;
      waiting = true;
      const deadline = setTimeout(() => {
        this.log.info('tunnel connection missed its keepalive, reconnecting', { index: this.cfg.index });
        session.destroy(Object.assign(new Error('keepalive timeout'), { code: 'KEEPALIVE_TIMEOUT' }));
      }, this.cfg.keepaliveTimeoutMs);
      try {
        session.ping((err) => {
          clearTimeout(deadline);
          waiting = false;
          if (err && !session.destroyed) session.destroy(err);
        });
      } catch {
        clearTimeout(deadline);
      }
    }, this.cfg.keepaliveIntervalMs);
  }

  /** Stop taking new streams (GOAWAY); streams in flight go on. */
  drain(): void {
    this.ready = false;
    const s = this.session;
    if (s && !s.destroyed && !s.closed) s.goaway(http2.constants.NGHTTP2_NO_ERROR);
  }

  close(): void {
    const s = this.session;
    if (s && !s.destroyed) s.close();
  }

  destroy(): void {
    this.session?.destroy();
  }
}
