/**
 * WebSockets through the proxy entry with the `ws` library doing the framing:
 *   ws://  an absolute-form upgrade request (GET ws://host/path + Proxy-Authorization) on a socket to the proxy
 *   wss:// CONNECT host:port first, then TLS (trusting the test CA) and an ordinary upgrade inside it
 */
import net from 'node:net';
import tls from 'node:tls';
import WebSocket from 'ws';
import { onCleanup, within } from './cleanup.js';
import { connectThroughProxy, proxyAuthorization, type ProxyAuth, type ProxyTarget } from './proxy.js';

function opened(ws: WebSocket, what: string, timeoutMs: number): Promise<WebSocket> {
  onCleanup(() => ws.terminate());
  return within(
    new Promise<WebSocket>((resolvePromise, reject) => {
      ws.once('open', () => resolvePromise(ws));
      ws.once('error', reject);
      ws.once('unexpected-response', (_req, res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          reject(
            Object.assign(
              new Error(
                `${what}: upgrade answered ${res.statusCode}: ${Buffer.concat(chunks).toString().trim()}`,
              ),
              { status: res.statusCode, headers: res.headers },
            ),
          ),
        );
      });
    }),
    timeoutMs,
    what,
  );
}

/** ws:// URL through the proxy entry (absolute-form upgrade). */
export function wsThroughProxy(
  server: ProxyTarget,
  auth: ProxyAuth,
  url: string,
  timeoutMs = 20_000,
): Promise<WebSocket> {
  const u = new URL(url);
  const absolute = `ws://${u.host}${u.pathname}${u.search}`;
  const ws = new WebSocket(url, {
    headers: { 'proxy-authorization': proxyAuthorization(auth) },
    createConnection: () => {
      const socket = net.connect({ host: '127.0.0.1', port: server.proxyPort });
      // Node writes the request head in the first write: turn its origin-form request line into absolute form.
      const write = socket.write.bind(socket) as (...a: unknown[]) => boolean;
      let first = true;
      socket.write = (chunk: unknown, ...rest: unknown[]) => {
        if (first) {
          first = false;
          const text = Buffer.isBuffer(chunk) ? chunk.toString('latin1') : String(chunk);
          chunk = text.replace(/^GET \S+ HTTP\/1\.1/, `GET ${absolute} HTTP/1.1`);
        }
        return write(chunk, ...rest);
      };
      return socket;
    },
  });
  return opened(ws, `ws ${url} through the proxy`, timeoutMs);
}

/** wss:// URL: CONNECT through the proxy, TLS to the app (trusting `caPem`), then the upgrade. */
export async function wssThroughConnect(
  server: ProxyTarget,
  auth: ProxyAuth,
  url: string,
  caPem: string,
  timeoutMs = 20_000,
): Promise<WebSocket> {
  const u = new URL(url);
  const raw = await connectThroughProxy(server, `${u.hostname}:${u.port || 443}`, auth, timeoutMs);
  const ws = new WebSocket(url, {
    createConnection: () => tls.connect({ socket: raw, servername: 'localhost', ca: caPem }),
  });
  return opened(ws, `wss ${url} through CONNECT`, timeoutMs);
}

/** Resolves with the close code and reason the peer sent (or rejects after `timeoutMs`). */
export function closed(ws: WebSocket, timeoutMs = 20_000): Promise<{ code: number; reason: string }> {
  return within(
    new Promise((resolvePromise) =>
      ws.once('close', (code: number, reason: Buffer) => resolvePromise({ code, reason: reason.toString() })),
    ),
    timeoutMs,
    'websocket close',
  );
}
