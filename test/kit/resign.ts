/**
 * A browser's view of TLS resigning: CONNECT through the proxy entry, TLS trusting `caPem` (the server's resigning
 * CA, or a target's own CA for passthrough), then HTTP/1.1 requests one after another on that one connection.
 */
import http, { type IncomingHttpHeaders } from 'node:http';
import type { PeerCertificate, TLSSocket } from 'node:tls';
import tls from 'node:tls';
import { onCleanup } from './cleanup.js';
import { connectThroughProxy, type ProxyAuth, type ProxyTarget } from './proxy.js';

export interface TlsSessionResult {
  status: number;
  error: string | undefined;
  headers: IncomingHttpHeaders;
  body: string;
}

export interface TlsSession {
  socket: TLSSocket;
  /** The certificate the browser side was shown. */
  peer: PeerCertificate;
  /** One request on the session's connection (`host` sets the Host header; default the CONNECT target). */
  request(
    path: string,
    opts?: { method?: string; headers?: Record<string, string>; body?: string },
  ): Promise<TlsSessionResult>;
  close(): void;
}

/** An http.Agent that hands out one given socket, kept alive between requests. */
class OneSocketAgent extends http.Agent {
  constructor(private readonly socket: TLSSocket) {
    super({ keepAlive: true, maxSockets: 1 });
  }
  override createConnection(): TLSSocket {
    return this.socket;
  }
}

/** CONNECT `target` (host:port), TLS with SNI/name check for the target's host, trusting `caPem`. */
export async function tlsThroughConnect(
  server: ProxyTarget,
  auth: ProxyAuth,
  target: string,
  caPem: string,
): Promise<TlsSession> {
  const raw = await connectThroughProxy(server, target, auth);
  const host = target.slice(0, target.lastIndexOf(':')).replace(/^\[|\]$/g, '');
  const socket = await new Promise<TLSSocket>((resolve, reject) => {
    const s = tls.connect({ socket: raw, servername: host, host, ca: caPem, ALPNProtocols: ['http/1.1'] });
    s.once('secureConnect', () => resolve(s));
    s.once('error', reject);
  });
  onCleanup(() => socket.destroy());
  const agent = new OneSocketAgent(socket);
  return {
    socket,
    peer: socket.getPeerCertificate(),
    request(path, opts = {}) {
      return new Promise((resolve, reject) => {
        const req = http.request(
          { agent, method: opts.method ?? 'GET', path, headers: { host: target, ...opts.headers } },
          (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (c: Buffer) => chunks.push(c));
            res.on('end', () =>
              resolve({
                status: res.statusCode ?? 0,
                error: res.headers['x-sluice-error'] as string | undefined,
                headers: res.headers,
                body: Buffer.concat(chunks).toString('utf8'),
              }),
            );
            res.on('error', reject);
          },
        );
        req.on('error', reject);
        // Every wait has a timeout (test/kit/README.md).
        req.setTimeout(20_000, () => req.destroy(new Error(`${path} through ${target}: no answer in 20 s`)));
        req.end(opts.body);
      });
    },
    close() {
      agent.destroy();
      socket.destroy();
    },
  };
}
