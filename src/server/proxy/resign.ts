/**
 * TLS resigning on the proxy entry (docs/decisions/0016-tls-resigning.md): a browser's CONNECT to a host that the
 * tunnel resigns is answered 200, then its TLS is terminated here with a leaf certificate for that host from the
 * resigning CA (pki/resign-ca.ts). The decrypted connection is HTTP/1.1 (the only protocol offered by ALPN); an
 * inner HTTP server parses it, and each request is routed like a plain one, as `https://host/...`:
 *
 *   browser ──CONNECT host:443──> proxy entry ──200, TLS (leaf for host)──> inner HTTP server
 *     GET /x (Host: host)   -> stream {:method GET, :scheme https, :authority host, :path /x}  (sc makes the TLS)
 *     GET / + Upgrade       -> CONNECT stream with x-sluice-tls, carrying the upgrade request   (wss://)
 *
 * So the tunnel's domain rules hold for every request on the connection, and sc's egress sees plain requests:
 * --auth, --header and HTTP logging apply, and sc verifies the real site's certificate.
 */
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type net from 'node:net';
import type { Duplex } from 'node:stream';
import tls from 'node:tls';
import type { Logger } from '../../observability/log.js';
import type { Resigner } from '../pki/resign-ca.js';
import { sendError, writeSocketError } from './error-response.js';

/** What the CONNECT said: the host the leaf is for, its port, and whatever the caller routes with. */
export interface ResignedConnection<C> {
  host: string;
  port: number;
  context: C;
}

export interface ResignServerDeps<C> {
  resigner: Resigner;
  log: Logger;
  maxHeaderSize: number;
  headerTimeoutMs: number;
  idleTimeoutMs: number;
  /** One decrypted request, its target as an https:// URL (from Host; the CONNECT's port when Host has none). */
  request(req: IncomingMessage, res: ServerResponse, url: URL, conn: ResignedConnection<C>): void;
  /** A decrypted upgrade request (WebSocket): its target as a wss:// URL. */
  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer, url: URL, conn: ResignedConnection<C>): void;
}

export interface ResignServer<C> {
  /**
   * Answers the CONNECT with 200 once the leaf is ready and terminates the browser's TLS on `socket` (`head`: bytes
   * read after the CONNECT head). The leaf is for `host`.
   */
  terminate(socket: Duplex, head: Buffer, host: string, port: number, context: C): void;
  close(): void;
}

/** The target of a decrypted request: its Host (or the CONNECT's authority), https, the path as sent. */
export function resignedUrl(req: IncomingMessage, conn: { host: string; port: number }): URL | null {
  const path = req.url ?? '';
  if (!path.startsWith('/')) return null;
  const connectHost = conn.host.includes(':') ? `[${conn.host}]` : conn.host;
  let authority = req.headers.host ?? `${connectHost}:${conn.port}`;
  // A Host without a port on a CONNECT to another port than 443 means that port (browsers name it; others may not).
  if (!/:\d+$/.test(authority) && authority.toLowerCase() === connectHost.toLowerCase()) {
    authority = `${connectHost}:${conn.port}`;
  }
  try {
    const url = new URL(`https://${authority}${path}`);
    if (url.username || url.password || url.host === '') return null;
    return url;
  } catch {
    return null;
  }
}

export function createResignServer<C>(deps: ResignServerDeps<C>): ResignServer<C> {
  const connections = new WeakMap<object, ResignedConnection<C>>();
  const sockets = new Set<tls.TLSSocket>();
  const inner = http.createServer({
    maxHeaderSize: deps.maxHeaderSize,
    keepAliveTimeout: 60_000,
    requestTimeout: 0,
    headersTimeout: deps.headerTimeoutMs,
    connectionsCheckingInterval: Math.max(50, Math.min(1000, Math.floor(deps.headerTimeoutMs / 4))),
  });
  inner.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const conn = connections.get(req.socket);
    if (!conn) return sendError(res, 'bad_request');
    const url = resignedUrl(req, conn);
    if (!url) return sendError(res, 'bad_request', 'expected an origin-form request with a valid Host');
    deps.request(req, res, url, conn);
  });
  inner.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => undefined);
    const conn = connections.get(socket);
    if (!conn) return void socket.destroy();
    const url = resignedUrl(req, conn);
    if (!url)
      return writeSocketError(socket, 'bad_request', 'expected an origin-form upgrade with a valid Host');
    url.protocol = 'wss:';
    (socket as net.Socket).setTimeout(deps.idleTimeoutMs, () => socket.destroy());
    deps.upgrade(req, socket, head, url, conn);
  });
  inner.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
    if (err.code === 'HPE_HEADER_OVERFLOW') return writeSocketError(socket, 'header_too_large');
    if (err.code === 'ECONNRESET' || !socket.writable) return void socket.destroy();
    writeSocketError(socket, 'bad_request', err.code);
  });

  return {
    terminate(socket, head, host, port, context) {
      deps.resigner.contextFor(host).then(
        (secureContext) => {
          if (socket.destroyed) return;
          // The inner server times the decrypted connection (keep-alive, header timeouts; upgrades get their own).
          (socket as net.Socket).setTimeout?.(0);
          socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
          if (head.length) socket.unshift(head);
          const secure = new tls.TLSSocket(socket, {
            isServer: true,
            secureContext,
            ALPNProtocols: ['http/1.1'],
          });
          sockets.add(secure);
          // A browser that never completes the handshake is closed like one whose request head is late.
          const handshake = setTimeout(() => {
            secure.destroy();
            socket.destroy();
          }, deps.headerTimeoutMs);
          handshake.unref();
          secure.once('secure', () => clearTimeout(handshake));
          secure.once('close', () => clearTimeout(handshake));
          secure.on('error', () => socket.destroy());
          secure.once('close', () => {
            sockets.delete(secure);
            socket.destroy();
          });
          socket.once('close', () => secure.destroy());
          connections.set(secure, { host, port, context });
          inner.emit('connection', secure);
        },
        (err: unknown) => {
          deps.log.error('cannot issue a resigned certificate', { host, error: (err as Error).message });
          writeSocketError(socket, 'bad_request', `cannot resign TLS for "${host}"`);
        },
      );
    },
    close() {
      for (const s of sockets) s.destroy();
      inner.closeAllConnections();
    },
  };
}
