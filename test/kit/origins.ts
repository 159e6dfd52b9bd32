/**
 * Private-side apps for the tunnel to reach, all on 127.0.0.1 port 0, closed by cleanup().
 *
 * HTTP app routes:
 *   /bytes/N[?seed=S]   N deterministic bytes (see deterministicBytes), with Content-Length
 *   /sha256             {"sha256","bytes"} of the request body
 *   /status/N           status N ("status N" body except for 204/304)
 *   /slow/MS            answers "slow MS" after MS milliseconds
 *   /chunked            a chunked body (CHUNKED_BODY) written in several pieces
 *   /head               a fixed body with Content-Length, for HEAD
 *   anything else       echo: {"method","url","httpVersion","headers","rawHeaders","body","bodyLength"}
 */
import { createHash } from 'node:crypto';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import net, { type AddressInfo, type Socket } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import { onCleanup } from './cleanup.js';
import { testCa } from './test-ca.js';

export interface Origin {
  /** 127.0.0.1:PORT */
  host: string;
  port: number;
  /** http(s)://127.0.0.1:PORT or ws(s)://... */
  url: string;
  /** Requests seen (HTTP apps), for assertions about what reached the origin. */
  requests: EchoRecord[];
  close(): Promise<void>;
}

export interface EchoRecord {
  method: string;
  url: string;
  httpVersion: string;
  headers: Record<string, string | string[] | undefined>;
  rawHeaders: string[];
}

/** The body of /bytes/N?seed=S: byte i is a function of i and the seed, and differs between seeds. */
export function deterministicBytes(n: number, seed = 0, offset = 0): Buffer {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) {
    const x = i + offset;
    b[i] = (x * 31 + (x >>> 8) * 7 + seed * 101 + (x >>> 16)) & 0xff;
  }
  return b;
}

export const sha256 = (b: Buffer | string): string => createHash('sha256').update(b).digest('hex');

export const GREETING = 'hello from the target\n';

export const CHUNKED_BODY = ['first chunk\n', 'second, a bit longer chunk\n', 'x'.repeat(5000), '\nlast\n'];

const HEAD_BODY = 'head route body\n';

function trackSockets(server: net.Server): () => void {
  const sockets = new Set<Socket>();
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });
  server.on('secureConnection', (s: Socket) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });
  return () => {
    for (const s of sockets) s.destroy();
  };
}

function listen(server: net.Server): Promise<number> {
  return new Promise((resolvePromise, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolvePromise((server.address() as AddressInfo).port));
  });
}

function closer(server: net.Server, destroyAll: () => void): () => Promise<void> {
  return onCleanup(
    () =>
      new Promise<void>((r) => {
        server.close(() => r());
        destroyAll();
      }),
  );
}

function handle(req: IncomingMessage, res: ServerResponse, requests: EchoRecord[]): void {
  requests.push({
    method: req.method ?? '',
    url: req.url ?? '',
    httpVersion: req.httpVersion,
    headers: { ...req.headers },
    rawHeaders: req.rawHeaders,
  });
  const url = new URL(req.url ?? '/', 'http://origin');
  const parts = url.pathname.split('/');
  const route = parts[1];
  const arg = parts[2] ?? '';
  if (route === 'bytes') {
    req.resume();
    const n = Number(arg);
    const seed = Number(url.searchParams.get('seed') ?? 0);
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': n });
    if (req.method === 'HEAD') return void res.end();
    // Streamed in 1 MiB pieces with backpressure so 64 MiB bodies do not sit in memory at once.
    let sent = 0;
    const pump = (): void => {
      while (sent < n) {
        const len = Math.min(1 << 20, n - sent);
        const ok = res.write(deterministicBytes(len, seed, sent));
        sent += len;
        if (!ok) return void res.once('drain', pump);
      }
      res.end();
    };
    return pump();
  }
  if (route === 'sha256') {
    const hash = createHash('sha256');
    let bytes = 0;
    req.on('data', (c: Buffer) => {
      hash.update(c);
      bytes += c.length;
    });
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ sha256: hash.digest('hex'), bytes }));
    });
    return;
  }
  if (route === 'status') {
    req.resume();
    const status = Number(arg);
    if (status === 204 || status === 304 || req.method === 'HEAD') {
      res.writeHead(status, { etag: '"e2e"' });
      return void res.end();
    }
    return void res.writeHead(status, { 'content-type': 'text/plain' }).end(`status ${status}\n`);
  }
  if (route === 'slow') {
    req.resume();
    const timer = setTimeout(() => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end(`slow ${arg}\n`);
    }, Number(arg));
    res.once('close', () => clearTimeout(timer));
    return;
  }
  if (route === 'chunked') {
    req.resume();
    res.writeHead(200, { 'content-type': 'text/plain' });
    let i = 0;
    const next = (): void => {
      if (i === CHUNKED_BODY.length) return void res.end();
      res.write(CHUNKED_BODY[i++]);
      setTimeout(next, 5);
    };
    return next();
  }
  if (route === 'head') {
    req.resume();
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(HEAD_BODY) });
    return void res.end(req.method === 'HEAD' ? undefined : HEAD_BODY);
  }
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const body = Buffer.concat(chunks);
    const json = JSON.stringify({
      method: req.method,
      url: req.url,
      httpVersion: req.httpVersion,
      headers: req.headers,
      rawHeaders: req.rawHeaders,
      body: body.toString('utf8'),
      bodyLength: body.length,
    });
    res.writeHead(200, { 'content-type': 'application/json', 'x-origin': 'e2e' });
    res.end(req.method === 'HEAD' ? undefined : json);
  });
}

async function serveHttp(
  server: http.Server,
  scheme: 'http' | 'https',
  requests: EchoRecord[],
): Promise<Origin> {
  server.on('request', (req: IncomingMessage, res: ServerResponse) => handle(req, res, requests));
  const destroyAll = trackSockets(server);
  const port = await listen(server);
  return {
    host: `127.0.0.1:${port}`,
    port,
    url: `${scheme}://127.0.0.1:${port}`,
    requests,
    close: closer(server, destroyAll),
  };
}

/** The plain HTTP app, listening only on 127.0.0.1. */
export function startHttpApp(): Promise<Origin> {
  return serveHttp(http.createServer({ keepAliveTimeout: 5000 }), 'http', []);
}

/** The same app over TLS, certificate from testCa() (SANs localhost, 127.0.0.1). */
export async function startTlsApp(): Promise<Origin> {
  const ca = await testCa();
  return serveHttp(https.createServer({ cert: ca.certPem, key: ca.keyPem }), 'https', []);
}

/**
 * WebSocket echo (ws, or wss with the test CA). A text message "close:CODE:REASON" makes the server close with
 * that code; `closes` records the code and reason of every close the server received.
 */
export async function startWsEcho(
  tls = false,
): Promise<Origin & { closes: { code: number; reason: string }[]; headers: EchoRecord[] }> {
  const ca = tls ? await testCa() : undefined;
  const server = ca ? https.createServer({ cert: ca.certPem, key: ca.keyPem }) : http.createServer();
  const headers: EchoRecord[] = [];
  const closes: { code: number; reason: string }[] = [];
  const wss = new WebSocketServer({ server, maxPayload: 64 << 20 });
  wss.on('connection', (ws: WebSocket, req: IncomingMessage) => {
    headers.push({
      method: req.method ?? '',
      url: req.url ?? '',
      httpVersion: req.httpVersion,
      headers: { ...req.headers },
      rawHeaders: req.rawHeaders,
    });
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      if (!isBinary) {
        const m = /^close:(\d+):(.*)$/.exec(data.toString('utf8'));
        if (m) return ws.close(Number(m[1]), m[2]);
      }
      ws.send(data, { binary: isBinary });
    });
    ws.on('close', (code: number, reason: Buffer) => closes.push({ code, reason: reason.toString('utf8') }));
    ws.on('error', () => undefined);
  });
  const destroyAll = trackSockets(server);
  const port = await listen(server);
  const close = closer(server, () => {
    for (const c of wss.clients) c.terminate();
    wss.close();
    destroyAll();
  });
  return {
    host: `127.0.0.1:${port}`,
    port,
    url: `${tls ? 'wss' : 'ws'}://127.0.0.1:${port}`,
    requests: headers,
    headers,
    closes,
    close,
  };
}

/**
 * Raw TCP echo with half-close kept open. mode 'stream' echoes as bytes arrive; 'after-end' echoes everything
 * only after the peer half-closed, so the echo arrives only if the FIN crossed the tunnel on its own.
 * 'greet-first' sends GREETING and half-closes at once, then keeps reading: payloads() lists what each
 * connection sent until its own FIN.
 */
export async function startTcpEcho(
  mode: 'stream' | 'after-end' | 'greet-first' = 'stream',
): Promise<Origin & { connections(): number; received(): number; payloads(): string[] }> {
  let connections = 0;
  let received = 0;
  const payloads: string[] = [];
  const server = net.createServer({ allowHalfOpen: true }, (s: Socket) => {
    connections++;
    s.on('error', () => undefined);
    if (mode === 'stream') {
      s.on('data', (c: Buffer) => (received += c.length));
      s.pipe(s);
      return;
    }
    const chunks: Buffer[] = [];
    s.on('data', (c: Buffer) => {
      received += c.length;
      chunks.push(c);
    });
    if (mode === 'greet-first') {
      s.end(GREETING);
      s.on('end', () => payloads.push(Buffer.concat(chunks).toString('utf8')));
      return;
    }
    s.on('end', () => s.end(Buffer.concat(chunks)));
  });
  const destroyAll = trackSockets(server);
  const port = await listen(server);
  return {
    host: `127.0.0.1:${port}`,
    port,
    url: `tcp://127.0.0.1:${port}`,
    requests: [],
    connections: () => connections,
    received: () => received,
    payloads: () => payloads,
    close: closer(server, destroyAll),
  };
}

/** A port on 127.0.0.1 with nothing listening (bound, then closed). */
export async function closedPort(): Promise<number> {
  const s = net.createServer();
  const port = await listen(s);
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/**
 * A plain HTTP app on 127.0.0.1 answering every request with `body` (after `delayMs`), for tests that only need
 * to tell which app answered; `requests` records what reached it. Its `url` ends with '/'.
 */
export async function startOrigin(body = 'origin', delayMs = 0): Promise<Origin> {
  const requests: EchoRecord[] = [];
  const server = http.createServer((req, res) => {
    requests.push({
      method: req.method ?? '',
      url: req.url ?? '',
      httpVersion: req.httpVersion,
      headers: req.headers,
      rawHeaders: req.rawHeaders,
    });
    if (delayMs > 0) setTimeout(() => res.end(body), delayMs);
    else res.end(body);
  });
  const destroyAll = trackSockets(server);
  const port = await listen(server);
  const close = closer(server, destroyAll);
  return { host: `127.0.0.1:${port}`, port, url: `http://127.0.0.1:${port}/`, requests, close };
}
