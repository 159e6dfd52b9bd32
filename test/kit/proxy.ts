/**
 * Talking to the proxy entry the way browsers do: Basic proxy credentials `<user>;tunnel=<name>[;owner=<o>]`
 * with the access key as password, absolute-form requests, CONNECT.
 */
import { spawnSync } from 'node:child_process';
import http, { type IncomingHttpHeaders } from 'node:http';
import net from 'node:net';
import type { Readable } from 'node:stream';
import { ProxyAgent } from 'undici';
import { waitFor } from './cleanup.js';
import type { TestServer } from './server.js';

export interface ProxyAuth {
  username: string;
  accessKey: string;
  tunnel?: string;
  owner?: string;
}

export type ProxyTarget = Pick<TestServer, 'proxyAddress' | 'proxyPort'>;

/** The proxy user name: `<user>;tunnel=<name>[;owner=<owner>]`. */
export function proxyUser(auth: ProxyAuth): string {
  return (
    auth.username +
    (auth.tunnel !== undefined ? `;tunnel=${auth.tunnel}` : '') +
    (auth.owner ? `;owner=${auth.owner}` : '')
  );
}

/** The `Proxy-Authorization` value. */
export function proxyAuthorization(auth: ProxyAuth): string {
  return 'Basic ' + Buffer.from(`${proxyUser(auth)}:${auth.accessKey}`).toString('base64');
}

/** http://user;tunnel=x:key@127.0.0.1:PORT (for curl -x and similar). */
export function proxyUrl(server: ProxyTarget, auth: ProxyAuth): string {
  return `http://${encodeURIComponent(proxyUser(auth))}:${encodeURIComponent(auth.accessKey)}@${server.proxyAddress}`;
}

/** An undici ProxyAgent through the proxy entry (for fetch/request). Close it when done. */
export function proxyAgent(server: ProxyTarget, auth: ProxyAuth): ProxyAgent {
  return new ProxyAgent({ uri: `http://${server.proxyAddress}`, token: proxyAuthorization(auth) });
}

export interface ProxyResponse {
  status: number;
  headers: IncomingHttpHeaders;
  rawHeaders: string[];
  body: Buffer;
}

export interface ProxyRequestOptions {
  method?: string;
  /** Absolute URL of the target, e.g. http://127.0.0.1:3000/x. */
  url: string;
  headers?: Record<string, string | string[]>;
  /** Request body; a Readable is streamed (chunked unless a content-length header is given). */
  body?: Buffer | string | Readable;
  /** Leave out Proxy-Authorization (auth may then be null). */
  timeoutMs?: number;
  agent?: http.Agent | false;
  /** Called with the request's socket once it has one (e.g. for waitUntilPeerRead). */
  onSocket?: (socket: net.Socket) => void;
}

/**
 * One absolute-form request through the proxy with `http.request`; resolves with the whole response. Rejects
 * after `timeoutMs` (default 20 s) so a hang fails the test instead of stalling it.
 */
export function proxyRequest(
  server: ProxyTarget,
  auth: ProxyAuth | null,
  opts: ProxyRequestOptions,
): Promise<ProxyResponse> {
  return new Promise((resolvePromise, reject) => {
    const headers: Record<string, string | string[]> = { ...opts.headers };
    if (auth) headers['proxy-authorization'] = proxyAuthorization(auth);
    // Node frames DELETE/OPTIONS bodies only when told how: say it explicitly for every method.
    const framed = Object.keys(headers).some((k) => /^(content-length|transfer-encoding)$/i.test(k));
    if (opts.body !== undefined && !framed) {
      if (typeof opts.body === 'string' || Buffer.isBuffer(opts.body))
        headers['content-length'] = String(Buffer.byteLength(opts.body));
      else headers['transfer-encoding'] = 'chunked';
    }
    const req = http.request({
      host: '127.0.0.1',
      port: server.proxyPort,
      method: opts.method ?? 'GET',
      path: opts.url,
      headers,
      agent: opts.agent ?? false,
      setHost: true,
    });
    if (opts.onSocket) req.once('socket', (s) => opts.onSocket!(s));
    const ms = opts.timeoutMs ?? 20_000;
    const timer = setTimeout(
      () =>
        req.destroy(new Error(`proxy request ${opts.method ?? 'GET'} ${opts.url} timed out after ${ms} ms`)),
      ms,
    );
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        clearTimeout(timer);
        resolvePromise({
          status: res.statusCode ?? 0,
          headers: res.headers,
          rawHeaders: res.rawHeaders,
          body: Buffer.concat(chunks),
        });
      });
      res.on('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
    });
    req.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    const body = opts.body;
    if (body === undefined) req.end();
    else if (typeof body === 'string' || Buffer.isBuffer(body)) req.end(body);
    else body.pipe(req);
  });
}

/** The answer to a CONNECT that was not 200, with what the proxy said. */
export class ProxyConnectError extends Error {
  constructor(
    readonly status: number,
    readonly headers: Record<string, string>,
    readonly body: string,
  ) {
    super(`CONNECT answered ${status}: ${body.trim()}`);
  }
}

/**
 * Opens a raw socket through CONNECT `target` (host:port). Resolves with the socket after a 200 (any bytes that
 * came with the 200 are unshifted back); rejects with ProxyConnectError otherwise, or after `timeoutMs`.
 */
export function connectThroughProxy(
  server: ProxyTarget,
  target: string,
  auth: ProxyAuth | null,
  timeoutMs = 20_000,
): Promise<net.Socket> {
  return new Promise((resolvePromise, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port: server.proxyPort, allowHalfOpen: true });
    let buf = Buffer.alloc(0);
    const timer = setTimeout(
      () => fail(new Error(`CONNECT ${target} timed out after ${timeoutMs} ms`)),
      timeoutMs,
    );
    const fail = (err: Error): void => {
      clearTimeout(timer);
      socket.destroy();
      reject(err);
    };
    socket.on('error', fail);
    socket.on('connect', () => {
      const lines = [`CONNECT ${target} HTTP/1.1`, `Host: ${target}`];
      if (auth) lines.push(`Proxy-Authorization: ${proxyAuthorization(auth)}`);
      socket.write(lines.join('\r\n') + '\r\n\r\n');
    });
    // Read the answer in paused mode ('readable'), so that once the listener is gone the socket is back to its
    // initial state: the caller's first 'data' listener or pipe starts the flow, and no byte is lost.
    const onReadable = (): void => {
      let c: Buffer | null;
      while ((c = socket.read() as Buffer | null) !== null) {
        buf = Buffer.concat([buf, c]);
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) continue;
        const head = buf.subarray(0, end).toString('latin1').split('\r\n');
        const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(head[0] ?? '')?.[1] ?? 0);
        const headers: Record<string, string> = {};
        for (const l of head.slice(1)) {
          const i = l.indexOf(':');
          if (i > 0) headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
        }
        const rest = buf.subarray(end + 4);
        if (status === 200) {
          clearTimeout(timer);
          socket.off('readable', onReadable);
          socket.off('error', fail);
          socket.off('end', onEnd);
          if (rest.length) socket.unshift(rest);
          return resolvePromise(socket);
        }
        // Read the short error body (Content-Length) before reporting.
        const len = Number(headers['content-length'] ?? 0);
        if (rest.length >= len) {
          clearTimeout(timer);
          socket.destroy();
          return reject(new ProxyConnectError(status, headers, rest.subarray(0, len).toString('utf8')));
        }
      }
    };
    const onEnd = (): void =>
      fail(new Error(`proxy closed the connection during CONNECT ${target}: ${buf.toString('latin1')}`));
    socket.on('readable', onReadable);
    socket.on('end', onEnd);
  });
}

/** Like connectThroughProxy but resolves with the error (status, headers, body) instead of rejecting. */
export async function connectStatus(
  server: ProxyTarget,
  target: string,
  auth: ProxyAuth | null,
): Promise<{ status: number; headers: Record<string, string>; body: string }> {
  try {
    const s = await connectThroughProxy(server, target, auth);
    s.destroy();
    return { status: 200, headers: {}, body: '' };
  } catch (err) {
    if (err instanceof ProxyConnectError) return { status: err.status, headers: err.headers, body: err.body };
    throw err;
  }
}

export interface ProxyGetResult {
  status: number;
  /** The X-Sluice-Error code of an error answer (docs/errors.md). */
  error: string | undefined;
  retryAfter: string | undefined;
  headers: IncomingHttpHeaders;
  body: string;
}

/** GET `url` through the proxy entry (proxyRequest with the target's Host): status, error code, body as text. */
export async function proxyGet(
  server: ProxyTarget,
  auth: ProxyAuth | null,
  url: string,
  opts: Omit<ProxyRequestOptions, 'url' | 'method' | 'body'> = {},
): Promise<ProxyGetResult> {
  const r = await proxyRequest(server, auth, {
    ...opts,
    url,
    headers: { host: new URL(url).host, ...opts.headers },
  });
  return {
    status: r.status,
    error: r.headers['x-sluice-error'] as string | undefined,
    retryAfter: r.headers['retry-after'],
    headers: r.headers,
    body: r.body.toString('utf8'),
  };
}

/** Recv-Q and Send-Q of the established loopback TCP socket from `from` to `to` (ports), or undefined. */
function tcpQueues(from: number, to: number): { recvQ: number; sendQ: number } | undefined {
  const r = spawnSync('ss', ['-Htn', 'state', 'established', `( sport = :${from} and dport = :${to} )`], {
    encoding: 'utf8',
  });
  if (r.error) throw new Error(`ss is needed to observe sockets: ${r.error.message}`);
  const m = /^\s*(\d+)\s+(\d+)\s/.exec(r.stdout);
  return m ? { recvQ: Number(m[1]), sendQ: Number(m[2]) } : undefined;
}

/**
 * Resolves once everything written on `socket` (a loopback connection, e.g. to the proxy entry) has been read by
 * the process at the other end: nothing left in our send buffer, nor in the peer's receive queue (seen with
 * `ss`). Use it instead of a sleep to know the server has a request in hand, e.g. one now waiting in a queue.
 */
export async function waitUntilPeerRead(socket: net.Socket, timeoutMs = 20_000): Promise<void> {
  await waitFor(
    'the peer to read what was written',
    () => {
      if (socket.connecting || socket.writableLength > 0 || !socket.localPort || !socket.remotePort)
        return undefined;
      const ours = tcpQueues(socket.localPort, socket.remotePort);
      const theirs = tcpQueues(socket.remotePort, socket.localPort);
      return ours?.sendQ === 0 && theirs?.recvQ === 0 ? true : undefined;
    },
    timeoutMs,
  );
}
