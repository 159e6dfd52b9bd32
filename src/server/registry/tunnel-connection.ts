/**
 * One live tunnel connection on the server: a reversed HTTP/2 session over a TLS socket dialled by `sc`.
 * sc-server is the HTTP/2 client here; every proxied request is a stream it opens.
 */
import http2, { type ClientHttp2Session, type ClientHttp2Stream, type OutgoingHttpHeaders } from 'node:http2';
import type { Logger } from '../../observability/log.js';
import { CONTROL_AUTHORITY, CONTROL_SCHEME, type ControlOp } from '../../protocol/tunnel-protocol.js';

export interface KeepaliveConfig {
  intervalMs: number;
  timeoutMs: number;
}

/**
 * What the registry routes to: a connection of `sc` on this node (TunnelConnection) or, in a cluster, one held
 * by another node and reached over the node link (src/server/cluster/remote-connection.ts).
 */
export interface Connection {
  readonly id: string;
  readonly tunnelId: string;
  readonly maxStreams: number;
  /** Where the connection comes from: the client's address, or `node:<id>` for another node's connection. */
  readonly remote: string;
  /** True for a connection held by another node. */
  readonly viaNode: boolean;
  openStreams: number;
  usable: boolean;
  closed: boolean;
  onChange: () => void;
  onClose(fn: () => void): void;
  request(headers: OutgoingHttpHeaders, endStream: boolean): ClientHttp2Stream;
  control(op: ControlOp, body: unknown, timeoutMs?: number): Promise<boolean>;
  drain(): void;
  destroy(): void;
}

export class TunnelConnection implements Connection {
  readonly viaNode = false;
  openStreams = 0;
  /** Streams opened over this connection (one per proxied request, CONNECT or spliced connection). */
  streamsTotal = 0;
  /** Failed streams by X-Sluice-Error code (else the HTTP status), for the console's per-tunnel view. */
  readonly errors = new Map<string, number>();
  /** Bytes read and written on the socket, kept when it closes (tunnel-stats.ts). */
  private finalBytes: { read: number; written: number } | null = null;
  /** Set once the client knows it is routable; cleared when either side starts to drain. */
  usable = false;
  closed = false;
  /** The client sent GOAWAY (it drains): never routable again. */
  goaway = false;
  private keepaliveTimer: NodeJS.Timeout | undefined;
  private readonly closeListeners: (() => void)[] = [];

  constructor(
    readonly id: string,
    readonly tunnelId: string,
    readonly session: ClientHttp2Session,
    readonly maxStreams: number,
    readonly remote: string,
    private readonly log: Logger,
  ) {
    session.on('close', () => {
      this.finalBytes ??= this.bytes();
      this.markClosed();
    });
    session.on('error', (err) => this.log.debug('tunnel connection error', { conn: id, error: err }));
    // The client sends GOAWAY when it drains (SIGTERM): take no new streams, let in-flight ones finish.
    session.on('goaway', () => {
      this.goaway = true;
      this.usable = false;
      this.onChange();
    });
  }

  /** Called by the registry to learn about state changes (close, drain). */
  onChange: () => void = () => undefined;

  onClose(fn: () => void): void {
    this.closeListeners.push(fn);
  }

  startKeepalive(cfg: KeepaliveConfig): void {
    if (cfg.intervalMs <= 0) return;
    let waiting = false;
    this.keepaliveTimer = setInterval(() => {
      if (waiting || this.closed) return;
      waiting = true;
      const deadline = setTimeout(() => {
        this.log.info('tunnel connection missed its keepalive, closing', {
          conn: this.id,
          tunnel: this.tunnelId,
        });
        this.destroy();
      }, cfg.timeoutMs);
      try {
        this.session.ping((err) => {
          clearTimeout(deadline);
          waiting = false;
          if (err && !this.closed) this.destroy();
        });
      } catch {
        clearTimeout(deadline);
        this.destroy();
      }
    }, cfg.intervalMs);
    this.keepaliveTimer.unref();
  }

  /** Opens a stream and keeps the open-stream count that load balancing reads. */
  request(headers: OutgoingHttpHeaders, endStream: boolean): ClientHttp2Stream {
    const stream = this.session.request(headers, { endStream });
    this.openStreams++;
    this.streamsTotal++;
    let answered = false;
    stream.once('response', (h) => {
      answered = true;
      const status = Number(h[':status']);
      if (status >= 400) this.countError(String(h['x-sluice-error'] ?? status));
    });
    stream.once('close', () => {
      this.openStreams--;
      if (!answered && stream.rstCode !== http2.constants.NGHTTP2_NO_ERROR)
        this.countError('tunnel_stream_failed');
      // A refused stream usually means the client is draining and its GOAWAY is still on the way: route elsewhere
      // for a moment; if no GOAWAY follows, the connection takes streams again.
      if (stream.rstCode === http2.constants.NGHTTP2_REFUSED_STREAM && this.usable) {
        this.usable = false;
        setTimeout(() => {
          if (!this.closed && !this.goaway) {
            this.usable = true;
            this.onChange();
          }
        }, 1000).unref();
      }
      this.onChange();
    });
    return stream;
  }

  private countError(code: string): void {
    if (this.errors.size < 64 || this.errors.has(code))
      this.errors.set(code, (this.errors.get(code) ?? 0) + 1);
  }

  /** Bytes read from and written to the client over this connection's socket (TLS records included). */
  bytes(): { read: number; written: number } {
    if (this.finalBytes) return this.finalBytes;
    try {
      const socket = this.session.socket as { bytesRead?: number; bytesWritten?: number } | undefined;
      return { read: socket?.bytesRead ?? 0, written: socket?.bytesWritten ?? 0 };
    } catch {
      // The session's socket proxy throws once the socket is gone.
      return { read: 0, written: 0 };
    }
  }

  /** Sends a control message; resolves when the client acknowledged it (or failed). */
  control(op: ControlOp, body: unknown, timeoutMs = 5000): Promise<boolean> {
    return new Promise((resolve) => {
      if (this.closed || this.session.closed || this.session.destroyed) return resolve(false);
      let stream: ClientHttp2Stream;
      try {
        stream = this.session.request({
          ':method': 'POST',
          ':scheme': CONTROL_SCHEME,
          ':authority': CONTROL_AUTHORITY,
          ':path': `/${op}`,
          'content-type': 'application/json',
        });
      } catch {
        return resolve(false);
      }
      const timer = setTimeout(() => {
        stream.close();
        resolve(false);
      }, timeoutMs);
      stream.on('response', (h) => {
        clearTimeout(timer);
        resolve(h[':status'] === 200);
        stream.resume();
      });
      // A client that acts on the message at once may close before its answer arrives: that settles it too.
      const settle = (): void => {
        clearTimeout(timer);
        resolve(false);
      };
      stream.on('error', settle);
      stream.on('close', settle);
      stream.end(Buffer.from(JSON.stringify(body)));
    });
  }

  /** Graceful: GOAWAY, in-flight streams finish, then the socket closes. */
  drain(): void {
    this.usable = false;
    if (!this.session.closed) this.session.close();
    this.onChange();
  }

  /** Takes the connection out of routing at once (the session's own 'close' event comes a turn later). */
  destroy(): void {
    this.markClosed();
    this.session.destroy();
  }

  private markClosed(): void {
    if (this.closed) return;
    this.finalBytes ??= this.bytes();
    this.closed = true;
    this.usable = false;
    clearInterval(this.keepaliveTimer);
    for (const fn of this.closeListeners) fn();
    this.onChange();
  }
}
