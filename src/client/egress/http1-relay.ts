/**
 * The byte relay for spliced connections (docs/decisions/0006-splice.md): one browser keep-alive connection,
 * carried by one tunnel stream, proxied to the targets without terminating HTTP.
 *
 *   stream ──request head (absolute form)──> rewritten to origin form, hop-by-hop headers out, Via in ──> target
 *          <──response head, hop-by-hop out, Via in── <──
 *   bodies are copied as they are (Content-Length counted, chunked followed by a scanner, never decoded)
 *
 * One exchange at a time per connection, in order; the connection to the target is kept for the next request to
 * the same host:port. Per request it does what the per-stream path does (policy, dial retries, response-header
 * timeout, metrics, --log-http) at the cost of reading two heads, where Node's HTTP server and client would
 * parse and re-serialise everything.
 */
import { METHODS } from 'node:http';
import type net from 'node:net';
import type { Duplex } from 'node:stream';
import type { HttpLogEntry } from '../../observability/http-log.js';
import { errorResponse, proxyErrors, type ProxyErrorCode } from '../../protocol/errors.js';
import { withVia } from '../../protocol/tunnel-protocol.js';
import type { ClientMetrics } from '../api/metrics.js';
import { checkHost, connect, type DialPolicy } from './dialer.js';
import {
  bodyOf,
  ChunkedScanner,
  CRLF2,
  FramingError,
  parseHead,
  values,
  type Body,
  type Head,
} from '../../protocol/http1-framing.js';

export interface RelayDeps {
  policy: DialPolicy & { responseHeaderTimeoutMs: number };
  metrics: ClientMetrics;
  logHttp?: (e: HttpLogEntry) => void;
  maxHeaderSize: number;
  idleMs: number;
  draining(): boolean;
  errorCode(err: unknown): ProxyErrorCode;
}

const EMPTY = Buffer.alloc(0);
const KNOWN_METHODS = new Set(METHODS);
/** Largest response head accepted from a target. */
const MAX_RESPONSE_HEAD = 64 * 1024;
/** Browser bytes buffered while an exchange is in progress before the stream is paused. */
const MAX_BUFFERED = 1024 * 1024;
/** Hop-by-hop fields: never passed on (RFC 9110 7.6.1, plus the proxy ones). */
const HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authorization',
  'proxy-authenticate',
  'te',
  'trailer',
  'upgrade',
  'http2-settings',
]);

interface Exchange {
  method: string;
  url: string;
  t0: bigint;
  m: MethodMetrics;
  req: Body;
  reqLeft: number;
  reqChunks?: ChunkedScanner;
  reqDone: boolean;
  res?: Body;
  resLeft: number;
  resChunks?: ChunkedScanner;
  /** Response bytes have gone to the browser (an error can then only reset the connection). */
  answered: boolean;
  status: number;
  closeAfter: boolean;
  reqHeaders?: Record<string, string>;
  resHeaders?: Record<string, string>;
  /** Sent on a kept-alive target connection: one retry on a fresh one if it closes before answering. */
  reused: boolean;
  retry?: string;
}

interface MethodMetrics {
  inFlight: { inc(): void; dec(): void };
  byCode(status: number): { total: { inc(): void }; duration: { observe(v: number): void } };
}

/** Label children bound once per method and status: per request, no label hashing. */
const bound = new WeakMap<ClientMetrics, Map<string, MethodMetrics>>();
function metricsFor(metrics: ClientMetrics, method: string): MethodMetrics {
  let byMethod = bound.get(metrics);
  if (!byMethod) bound.set(metrics, (byMethod = new Map()));
  let m = byMethod.get(method);
  if (!m) {
    const codes = new Map<number, ReturnType<MethodMetrics['byCode']>>();
    m = {
      inFlight: metrics.httpRequestsInFlight.labels({ method }),
      byCode: (status) => {
        let c = codes.get(status);
        if (!c) {
          const labels = { code: String(status), method };
          c = {
            total: metrics.httpRequestsTotal.labels(labels),
            duration: metrics.httpRequestDuration.labels(labels),
          };
          codes.set(status, c);
        }
        return c;
      },
    };
    byMethod.set(method, m);
  }
  return m;
}

function concat(a: Buffer, b: Buffer): Buffer {
  return a.length === 0 ? b : Buffer.concat([a, b]);
}

/** Whether the sender keeps the connection open after this message (HTTP/1.0 must ask, 1.1 must refuse). */
function keepsAlive(connection: string[], http10: boolean): boolean {
  if (connection.length === 0) return !http10;
  const conn = connection.join(',').toLowerCase();
  return http10 ? /\bkeep-alive\b/.test(conn) : !/\bclose\b/.test(conn);
}

/**
 * `first`, then the head's end-to-end fields as sent (hop-by-hop ones, those its Connection names and `skip`
 * left out), then `Via` with our hop added. Content-Length and Transfer-Encoding stay: bodies pass unchanged.
 */
function rewrite(
  first: string[],
  head: Head,
  connection: string[],
  http10: boolean,
  skip?: string,
): string[] {
  // The fields the Connection header names are hop-by-hop too (usually none).
  const named: string[] = [];
  for (const v of connection) for (const t of v.split(',')) named.push(t.trim().toLowerCase());
  const via: string[] = [];
  for (let i = 0; i < head.fields.length; i++) {
    const l = head.lower[i]!;
    if (HOP.has(l) || l === skip || (named.length > 0 && named.includes(l))) continue;
    const [n, v] = head.fields[i]!;
    if (l === 'via') via.push(v);
    else first.push(`${n}: ${v}`);
  }
  first.push(`Via: ${withVia(via.length ? via.join(', ') : undefined, http10 ? '1.0' : '1.1')}`);
  return first;
}

function asRecord(head: Head): Record<string, string> {
  const out: Record<string, string> = {};
  head.fields.forEach(([, v], i) => {
    const l = head.lower[i]!;
    if (l !== 'proxy-authorization') out[l] = out[l] ? `${out[l]}, ${v}` : v;
  });
  return out;
}

export class Http1Relay {
  private inBuf: Buffer = EMPTY;
  private outBuf: Buffer = EMPTY;
  private ex: Exchange | null = null;
  private origin: net.Socket | null = null;
  private originKey = '';
  private originReusable = false;
  private bound: string | undefined;
  private boundSet = false;
  private browserEnded = false;
  private closed = false;
  /** One timer each, refreshed per use rather than created per request; their callbacks check the state. */
  private readonly idle: NodeJS.Timeout;
  private headTimer: NodeJS.Timeout | undefined;
  /** The exchange waiting for its response head, whose deadline `headTimer` holds. */
  private awaiting: Exchange | null = null;
  private tornDown = false;
  /** A rewritten response head not yet written: it goes with the first body bytes. */
  private pendingHead: Buffer | null = null;

  constructor(
    private readonly s: Duplex,
    private readonly deps: RelayDeps,
    private readonly onClose: () => void,
  ) {
    s.on('data', (c: Buffer) => this.fromBrowser(c));
    s.on('end', () => {
      this.browserEnded = true;
      if (!this.ex) this.finish();
      else this.truncated();
    });
    s.on('error', () => this.teardown());
    s.on('close', () => this.teardown());
    this.idle = setTimeout(() => {
      if (!this.ex) this.closeIfIdle();
    }, deps.idleMs).unref();
  }

  /** Shutdown: the connection goes now, whatever it is doing. */
  destroy(): void {
    this.s.destroy();
    this.teardown();
  }

  /** Closes the connection now if no exchange is in progress (drain). */
  closeIfIdle(): void {
    if (!this.ex) this.finish();
  }

  private armIdle(): void {
    this.idle.refresh();
  }

  /** Starts the response-header deadline of the current exchange (--response-header-timeout). */
  private waitHead(): void {
    const t = this.deps.policy.responseHeaderTimeoutMs;
    if (t <= 0) return;
    this.awaiting = this.ex;
    if (this.headTimer) this.headTimer.refresh();
    else
      this.headTimer = setTimeout(() => {
        const ex = this.awaiting;
        if (ex && ex === this.ex) this.fail('response_timeout', ex.url);
      }, t).unref();
  }

  private fromBrowser(chunk: Buffer): void {
    if (this.closed) return; // answered and ending: whatever else the client sends is dropped
    const ex = this.ex;
    if (ex && !ex.reqDone && this.origin && !this.origin.connecting) return this.requestBody(chunk);
    this.inBuf = concat(this.inBuf, chunk);
    if (!ex) return this.nextRequest();
    if (this.inBuf.length > MAX_BUFFERED) this.s.pause();
  }

  // ---- requests -------------------------------------------------------------------------------------------

  private nextRequest(): void {
    if (this.closed || this.ex) return;
    const buf = this.inBuf;
    if (buf.length === 0) {
      if (this.browserEnded) this.finish();
      else this.armIdle();
      return;
    }
    const end = buf.indexOf(CRLF2);
    if (end < 0 || end > this.deps.maxHeaderSize) {
      if (end > this.deps.maxHeaderSize || buf.length > this.deps.maxHeaderSize)
        this.reject('header_too_large');
      return;
    }
    this.inBuf = EMPTY;
    const rest = buf.subarray(end + 4);
    let head: Head;
    try {
      head = parseHead(buf.toString('latin1', 0, end));
    } catch (err) {
      return this.reject('bad_request', (err as Error).message);
    }
    const m = /^([A-Z]{1,20}) (\S+) HTTP\/1\.([01])$/.exec(head.line);
    if (!m || !KNOWN_METHODS.has(m[1]!)) return this.reject('bad_request', 'malformed request line');
    const method = m[1]!;
    if (method === 'CONNECT' || values(head, 'upgrade').length > 0)
      return this.reject('bad_request', `${method} on a reused proxy connection; open a new one`);
    // The server checked the first request's credentials; a different value ends the connection unanswered,
    // so the client retries on a fresh one, which the server checks.
    const auths = values(head, 'proxy-authorization');
    if (auths.length > 1) return this.reject('bad_request', 'more than one Proxy-Authorization');
    const auth = auths[0];
    if (!this.boundSet) {
      this.bound = auth;
      this.boundSet = true;
    } else if (auth !== this.bound) {
      this.s.destroy();
      return;
    }
    let url: URL;
    try {
      url = new URL(m[2]!);
    } catch {
      return this.reject('bad_request', 'expected an absolute http:// URL');
    }
    if (url.protocol !== 'http:' || !url.hostname || url.username || url.password)
      return this.reject('bad_request', 'expected an absolute http:// URL');
    let req: Body;
    try {
      req = bodyOf(head, { kind: 'none' });
    } catch (err) {
      return this.reject('bad_request', (err as Error).message);
    }
    const http10 = m[3] === '0';
    const connection = values(head, 'connection');
    const closeAfter = !keepsAlive(connection, http10);

    // Absolute form: the target's authority replaces whatever Host the client sent (RFC 9112, 3.2.2).
    const first = [`${method} ${url.pathname}${url.search} HTTP/1.1`, `Host: ${url.host}`];
    const lines = rewrite(first, head, connection, http10, 'host');

    const mm = metricsFor(this.deps.metrics, method);
    mm.inFlight.inc();
    const outHead = `${lines.join('\r\n')}\r\n\r\n`;
    const ex: Exchange = {
      method,
      m: mm,
      url: url.href,
      t0: process.hrtime.bigint(),
      req,
      reqLeft: req.kind === 'length' ? req.n : 0,
      reqChunks: req.kind === 'chunked' ? new ChunkedScanner() : undefined,
      reqDone: req.kind === 'none',
      resLeft: 0,
      answered: false,
      status: 0,
      closeAfter,
      reqHeaders: this.deps.logHttp ? asRecord(head) : undefined,
      reused: false,
      retry: req.kind === 'none' ? outHead : undefined,
    };
    this.ex = ex;
    const host = url.hostname.replace(/^\[|\]$/g, '');
    const port = Number(url.port || 80);
    try {
      checkHost(this.deps.policy, url.hostname);
    } catch (err) {
      return this.fail(this.deps.errorCode(err), url.hostname);
    }
    this.send(`${host}:${port}`, host, port, outHead, rest);
  }

  /** Writes the head (and the body bytes already read) to a kept-alive target connection or a new one. */
  private send(key: string, host: string, port: number, head: string, rest: Buffer): void {
    const ex = this.ex!;
    if (this.origin && this.originKey === key && this.originReusable && !this.origin.destroyed) {
      ex.reused = true;
      this.started(head, rest);
      return;
    }
    this.dropOrigin();
    this.s.pause();
    connect(this.deps.policy, host, port).then(
      (socket) => {
        if (this.closed || this.ex !== ex) return void socket.destroy();
        this.attach(socket, key);
        this.s.resume();
        this.started(head, rest);
      },
      (err: unknown) => {
        if (this.ex !== ex) return;
        this.deps.metrics.dialerErrorsTotal.inc({ host: key });
        this.fail(this.deps.errorCode(err), key);
      },
    );
  }

  private started(head: string, rest: Buffer): void {
    const ex = this.ex!;
    this.waitHead();
    // A string: the socket converts it natively, no Buffer to allocate (the origin is plain TCP, not HTTP/2).
    this.origin!.write(head, 'latin1');
    if (rest.length) this.requestBody(rest);
    // Body bytes that arrived while the target was being dialled.
    if (!ex.reqDone && this.inBuf.length) {
      const more = this.inBuf;
      this.inBuf = EMPTY;
      this.requestBody(more);
    }
    this.truncated();
  }

  /**
   * The browser stopped sending: a request body it has not finished can never end, so answer 400 (or reset, if
   * the response has begun) instead of leaving the target waiting for the rest. Body bytes still buffered while
   * the target is dialled are not missing: this runs again once they are written.
   */
  private truncated(): void {
    const ex = this.ex;
    if (!this.browserEnded || !ex || ex.reqDone || this.inBuf.length > 0) return;
    if (!this.origin || this.origin.connecting) return;
    this.fail('bad_request', 'the connection ended inside the request body');
  }

  private requestBody(buf: Buffer): void {
    const ex = this.ex!;
    let n = 0;
    try {
      if (ex.req.kind === 'length') n = Math.min(ex.reqLeft, buf.length);
      else if (ex.reqChunks) n = ex.reqChunks.scan(buf, 0);
    } catch (err) {
      return this.fail('bad_request', (err as Error).message);
    }
    if (ex.req.kind === 'length') {
      ex.reqLeft -= n;
      if (ex.reqLeft === 0) ex.reqDone = true;
    } else if (ex.reqChunks?.done) ex.reqDone = true;
    if (n > 0 && this.origin && !this.origin.write(n === buf.length ? buf : buf.subarray(0, n))) {
      this.s.pause();
      this.origin.once('drain', () => this.s.resume());
    }
    if (n < buf.length) {
      this.inBuf = concat(this.inBuf, buf.subarray(n));
      if (this.inBuf.length > MAX_BUFFERED) this.s.pause();
    }
  }

  // ---- responses ------------------------------------------------------------------------------------------

  private attach(socket: net.Socket, key: string): void {
    this.origin = socket;
    this.originKey = key;
    this.originReusable = true;
    this.deps.metrics.dialerDialedTotal.inc({ host: key });
    socket.on('data', (c: Buffer) => {
      if (socket === this.origin) this.fromOrigin(c);
    });
    socket.on('end', () => {
      if (socket === this.origin) this.originGone(false);
    });
    socket.on('error', () => {
      if (socket === this.origin) this.originGone(true);
    });
    socket.on('close', () => {
      this.deps.metrics.dialerClosedTotal.inc({ host: key });
      if (socket === this.origin) this.originGone(true);
    });
  }

  private fromOrigin(chunk: Buffer): void {
    const ex = this.ex;
    if (!ex) return this.dropOrigin(); // nothing was asked: the target is out of step
    if (ex.res) return this.responseBody(chunk);
    let buf = concat(this.outBuf, chunk);
    for (;;) {
      const end = buf.indexOf(CRLF2);
      if (end < 0 || end > MAX_RESPONSE_HEAD) {
        if (end > MAX_RESPONSE_HEAD || buf.length > MAX_RESPONSE_HEAD)
          return this.fail('upstream_reset', 'response head too large');
        this.outBuf = buf;
        return;
      }
      let head: Head;
      let status: number;
      let http10: boolean;
      try {
        head = parseHead(buf.toString('latin1', 0, end));
        const m = /^HTTP\/1\.([01]) (\d{3})(?: .*)?$/.exec(head.line);
        if (!m) throw new FramingError('malformed status line');
        status = Number(m[2]);
        http10 = m[1] === '0';
      } catch (err) {
        return this.fail('upstream_reset', (err as Error).message);
      }
      const rest = buf.subarray(end + 4);
      if (status === 101) return this.fail('upstream_reset', 'unexpected 101 from the target');
      if (status < 200) {
        // 100 Continue and other interim answers go on as they are; the final one follows.
        ex.answered = true;
        this.s.write(buf.subarray(0, end + 4));
        buf = rest;
        continue;
      }
      this.outBuf = EMPTY;
      this.awaiting = null;
      let res: Body;
      try {
        res =
          ex.method === 'HEAD' || status === 204 || status === 304
            ? { kind: 'none' }
            : bodyOf(head, { kind: 'close' });
      } catch (err) {
        return this.fail('upstream_reset', (err as Error).message);
      }
      const connection = values(head, 'connection');
      this.originReusable = res.kind !== 'close' && keepsAlive(connection, http10);
      if (res.kind === 'close' || this.deps.draining()) ex.closeAfter = true;
      ex.res = res;
      ex.resLeft = res.kind === 'length' ? res.n : 0;
      ex.resChunks = res.kind === 'chunked' ? new ChunkedScanner() : undefined;
      ex.status = status;
      if (this.deps.logHttp) ex.resHeaders = asRecord(head);

      const reason = head.line.slice(13); // what follows "HTTP/1.x NNN "
      const lines = rewrite([`HTTP/1.1 ${status}${reason ? ` ${reason}` : ''}`], head, connection, http10);
      if (ex.closeAfter) lines.push('Connection: close');
      ex.answered = true;
      const out = Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1');
      if (res.kind === 'none') {
        this.s.write(out);
        if (rest.length) this.originReusable = false;
        return this.complete();
      }
      // A small response usually arrives whole: head and body leave in one write (one DATA frame).
      this.pendingHead = out;
      this.responseBody(rest);
      return;
    }
  }

  private responseBody(buf: Buffer): void {
    const ex = this.ex!;
    const res = ex.res!;
    let n = buf.length;
    try {
      if (res.kind === 'length') n = Math.min(ex.resLeft, buf.length);
      else if (ex.resChunks) n = ex.resChunks.scan(buf, 0);
    } catch (err) {
      return this.fail('upstream_reset', (err as Error).message);
    }
    let chunk = n === buf.length ? buf : buf.subarray(0, n);
    if (this.pendingHead) {
      chunk = chunk.length ? Buffer.concat([this.pendingHead, chunk]) : this.pendingHead;
      this.pendingHead = null;
    }
    if (chunk.length > 0 && !this.s.write(chunk)) {
      const origin = this.origin;
      origin?.pause();
      this.s.once('drain', () => origin?.resume());
    }
    if (n < buf.length) this.originReusable = false; // more than the response: the target is out of step
    if (res.kind === 'length') {
      ex.resLeft -= n;
      if (ex.resLeft === 0) this.complete();
    } else if (ex.resChunks?.done) this.complete();
  }

  /** The target closed its connection (`failed`: with an error). */
  private originGone(failed: boolean): void {
    const ex = this.ex;
    const socket = this.origin;
    this.origin = null;
    this.originReusable = false;
    socket?.destroy();
    if (!ex) return;
    if (ex.res?.kind === 'close' && !failed) return this.complete();
    if (!ex.answered && ex.reused && ex.retry) {
      // A kept-alive connection the target closed just as the request went out: once more on a fresh one.
      const u = new URL(ex.url);
      ex.reused = false;
      const host = u.hostname.replace(/^\[|\]$/g, '');
      const port = Number(u.port || 80);
      this.awaiting = null;
      const head = ex.retry;
      ex.retry = undefined;
      this.send(`${host}:${port}`, host, port, head, EMPTY);
      return;
    }
    this.fail('upstream_reset', 'the target closed the connection');
  }

  // ---- endings --------------------------------------------------------------------------------------------

  private record(error?: string): void {
    const ex = this.ex;
    if (!ex) return;
    this.ex = null;
    this.awaiting = null;
    const ns = Number(process.hrtime.bigint() - ex.t0);
    ex.m.inFlight.dec();
    const done = ex.m.byCode(ex.status);
    done.total.inc();
    done.duration.observe(ns / 1e9);
    this.deps.logHttp?.({
      method: ex.method,
      url: ex.url,
      status: ex.status,
      durationMs: Math.round(ns / 1e6),
      reqHeaders: ex.reqHeaders,
      resHeaders: ex.resHeaders,
      error,
    });
  }

  private complete(): void {
    const ex = this.ex!;
    // A response that ends before its request body did leaves the rest of the body unread: close.
    const close = ex.closeAfter || !ex.reqDone;
    this.record();
    if (!this.originReusable) this.dropOrigin();
    if (close) return this.finish();
    this.s.resume();
    this.nextRequest();
  }

  /** Answers with an error (or resets when the response has begun) and closes the connection. */
  private fail(code: ProxyErrorCode, detail?: string): void {
    const ex = this.ex;
    this.deps.metrics.proxyErrorsTotal.inc({ reason: code });
    this.dropOrigin();
    if (ex?.answered) {
      this.record(code);
      this.s.destroy();
      return;
    }
    if (ex) ex.status = proxyErrors[code].status;
    this.record(code);
    this.writeError(code, detail, ex?.method === 'HEAD');
  }

  /** A request refused before it started. */
  private reject(code: ProxyErrorCode, detail?: string): void {
    this.deps.metrics.proxyErrorsTotal.inc({ reason: code });
    this.writeError(code, detail, false);
  }

  private writeError(code: ProxyErrorCode, detail: string | undefined, head: boolean): void {
    if (this.closed || this.s.destroyed) return;
    this.s.end(errorResponse(code, detail, {}, !head));
    this.closed = true;
    this.stopTimers();
  }

  private finish(): void {
    if (this.closed) return;
    this.closed = true;
    this.stopTimers();
    this.dropOrigin();
    this.s.end();
  }

  private dropOrigin(): void {
    const socket = this.origin;
    this.origin = null;
    this.originReusable = false;
    socket?.destroy();
  }

  private stopTimers(): void {
    clearTimeout(this.idle);
    clearTimeout(this.headTimer);
    this.awaiting = null;
  }

  private teardown(): void {
    this.stopTimers();
    if (this.tornDown) return;
    this.tornDown = true;
    if (this.ex) this.record('canceled');
    this.closed = true;
    this.dropOrigin();
    this.onClose();
  }
}
