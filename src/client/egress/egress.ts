/**
 * The private-network half of every proxied request: a stream arrives from the server over the tunnel, and `sc`
 * fetches it from the target.
 *
 *   tunnel stream {:method GET, :authority app:3000, :path /x} ──> pipeline Exchange (app:3000 GET /x) ──> response
 *   tunnel stream {:method CONNECT, :authority app:443}        ──> net.connect(app:443) ──> byte pipe
 *   tunnel stream {:method CONNECT, x-sluice-splice: http/1.1} ──> a browser's whole keep-alive connection,
 *       relayed request by request reading only the heads (http1-relay.ts, docs/decisions/0006-splice.md)
 *
 * Both plain-HTTP paths run every request through the one pipeline (pipeline.ts: policy, dialer, header rules,
 * timeouts, metrics, logs) and the one HTTP/1 exchange core (protocol/http1-exchange.ts).
 *
 * Failures answer with the status and X-Sluice-Error code from protocol/errors.ts.
 */
import http2, {
  type IncomingHttpHeaders,
  type OutgoingHttpHeaders,
  type ServerHttp2Stream,
} from 'node:http2';
import type { Duplex } from 'node:stream';
import type { HttpLogEntry } from '../../observability/http-log.js';
import type { Logger } from '../../observability/log.js';
import { ERROR_HEADER, errorBody, proxyErrors, type ProxyErrorCode } from '../../protocol/errors.js';
import { coalescingPipe } from '../../protocol/coalescing-pipe.js';
import type { ResponseHead } from '../../protocol/http1-exchange.js';
import type { Body } from '../../protocol/http1-framing.js';
import { SPLICE_HEADER, SPLICE_MAX_HEADER, TLS_HEADER } from '../../protocol/tunnel-protocol.js';
import type { ClientMetrics } from '../api/metrics.js';
import type { Inspector } from '../inspector/recorder.js';
import { Http1Relay } from './http1-relay.js';
import {
  EgressPipeline,
  Exchange,
  fieldsRecord,
  KeepAlivePool,
  routeOf,
  targetOf,
  type Dialer,
  type Downstream,
  type EgressConfig,
  type Fields,
  type RequestRules,
  type Target,
} from './pipeline.js';

export type { EgressConfig };

export interface EgressDeps {
  log: Logger;
  metrics: ClientMetrics;
  /** --log-http for the proxy module; called once per finished request. */
  logHttp?: (e: HttpLogEntry) => void;
  dialer?: Dialer;
  rules?: RequestRules;
  inspector?: Inspector;
}

const { NGHTTP2_CANCEL, NGHTTP2_CONNECT_ERROR } = http2.constants;
/** How long a spliced browser connection may sit idle between requests (it holds a tunnel stream meanwhile). */
const SPLICE_IDLE_MS = 20_000;
/** After SIGTERM, how long an idle spliced connection may still bring one last request. */
const DRAIN_IDLE_GRACE_MS = 1000;
const CRLF = Buffer.from('\r\n', 'latin1');

/** An HTTP/2 request's fields for HTTP/1 (pseudo-headers out; split cookies joined, RFC 9113 8.2.3). */
function h2Fields(headers: IncomingHttpHeaders): Fields {
  const out: Fields = [];
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || name.startsWith(':')) continue;
    if (Array.isArray(value)) {
      if (name === 'cookie') out.push([name, value.join('; ')]);
      else for (const v of value) out.push([name, v]);
    } else out.push([name, value]);
  }
  return out;
}

/** Response fields as HTTP/2 headers (repeated names as arrays). */
function h2Headers(fields: Fields, status: number): OutgoingHttpHeaders {
  const out: Record<string, string | string[]> = {};
  for (const [n, v] of fields) {
    const l = n.toLowerCase();
    const prev = out[l];
    if (prev === undefined) out[l] = v;
    else if (Array.isArray(prev)) prev.push(v);
    else out[l] = [prev, v];
  }
  return { ...out, ':status': status };
}

/** A target reached over TLS (resigned https/wss): its own kept-alive connections, `tls` set for the dialer. */
function secured(t: Target | null, tls: boolean): Target | null {
  if (!t || !tls) return t;
  return { ...t, tls: true, key: `https://${t.key}` };
}

/** Answers an HTTP/2 stream with an error (or resets it when the response has begun). */
function failStream(stream: ServerHttp2Stream, code: ProxyErrorCode, method: string, detail?: string): void {
  if (stream.headersSent) {
    stream.close(NGHTTP2_CONNECT_ERROR);
    return;
  }
  if (stream.destroyed || stream.closed) return;
  const body = errorBody(code, detail);
  stream.respond({
    ':status': proxyErrors[code].status,
    'content-type': 'text/plain; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    [ERROR_HEADER]: code,
  });
  stream.end(method === 'HEAD' ? undefined : Buffer.from(body));
}

/** The per-stream path's side of an exchange: the response goes back as an HTTP/2 response, bodies decoded. */
class StreamDownstream implements Downstream {
  readonly decode = true;
  constructor(
    private readonly stream: ServerHttp2Stream,
    private readonly method: string,
    private readonly pipeline: EgressPipeline,
  ) {}

  interim(): void {
    // The server removed Expect; other 1xx answers have no HTTP/2 request waiting for them.
  }

  head(res: ResponseHead): boolean | string {
    const stream = this.stream;
    if (stream.destroyed || stream.closed) return false;
    try {
      stream.respond(h2Headers(this.pipeline.responseFields(res), res.status), { endStream: false });
    } catch {
      return 'invalid response header from target';
    }
    return true;
  }

  body(chunk: Buffer): boolean {
    return this.stream.write(chunk);
  }

  onDrain(cb: () => void): void {
    this.stream.once('drain', cb);
  }

  end(): void {
    if (!this.stream.closed) this.stream.end();
  }

  fail(code: ProxyErrorCode, detail: string): void {
    failStream(this.stream, code, this.method, detail);
  }
}

export class Egress {
  private readonly pipeline: EgressPipeline;
  private readonly pool: KeepAlivePool;
  private draining = false;
  private readonly relays = new Set<Http1Relay>();

  constructor(cfg: EgressConfig, deps: EgressDeps) {
    this.pipeline = new EgressPipeline(cfg, deps);
    this.pool = new KeepAlivePool(cfg.idleConnTimeoutMs);
  }

  handle(stream: ServerHttp2Stream, headers: IncomingHttpHeaders): void {
    stream.on('error', () => undefined);
    if (headers[':method'] === 'CONNECT' && headers[SPLICE_HEADER]) this.splice(stream, headers);
    else if (headers[':method'] === 'CONNECT') this.connect(stream, headers);
    else this.request(stream, headers);
  }

  /**
   * SIGTERM: every response on a spliced connection now says `Connection: close`, so a client under load moves
   * to a fresh connection (which the server routes elsewhere) after its next answer; those still idle after
   * DRAIN_IDLE_GRACE_MS are closed. Closing idle ones at once raced with requests already on their way.
   */
  drain(): void {
    this.draining = true;
    setTimeout(() => {
      for (const r of this.relays) r.closeIfIdle();
    }, DRAIN_IDLE_GRACE_MS).unref();
  }

  close(): void {
    for (const r of this.relays) r.destroy();
    this.pool.destroy();
  }

  private connect(stream: ServerHttp2Stream, headers: IncomingHttpHeaders): void {
    const p = this.pipeline;
    const authority = String(headers[':authority'] ?? '');
    const target = secured(targetOf(authority, 0), headers[TLS_HEADER] !== undefined);
    if (!target) {
      p.countError('bad_request');
      return failStream(stream, 'bad_request', 'CONNECT', `bad CONNECT target "${authority}"`);
    }
    const tx = p.begin('CONNECT', authority, 'connect');
    const decision = p.decide(target);
    if (decision.action === 'deny') {
      p.countError(decision.code);
      tx.finish(decision.code);
      return failStream(stream, decision.code, 'CONNECT', decision.detail);
    }
    p.dial(target).then(
      (socket) => {
        p.deps.metrics.dialerDialedTotal.inc({ host: target.key });
        tx.rec?.connected(routeOf(socket), true);
        if (stream.destroyed || stream.closed) socket.destroy();
        else {
          tx.status = 200;
          stream.respond({ ':status': 200 });
          socket.pipe(stream);
          coalescingPipe(stream, socket);
          if (tx.rec) socket.once('data', () => tx.rec?.firstByte());
        }
        socket.on('error', () => {
          if (!stream.closed) stream.close(NGHTTP2_CONNECT_ERROR);
        });
        stream.on('close', () => socket.destroy());
        socket.once('close', () => {
          p.deps.metrics.dialerClosedTotal.inc({ host: target.key });
          tx.requestBytes = socket.bytesWritten;
          tx.responseBytes = socket.bytesRead;
          tx.finish(tx.status === 200 ? undefined : 'canceled');
          if (!stream.closed) stream.end();
        });
      },
      (err: unknown) => {
        p.deps.metrics.dialerErrorsTotal.inc({ host: target.key });
        const code = p.errorCode(err);
        p.countError(code);
        tx.finish(code);
        failStream(stream, code, 'CONNECT', p.errorDetail(err, target));
      },
    );
  }

  /** One request per stream (requests the server did not splice: shared tunnels, --proxy-splice off). */
  private request(stream: ServerHttp2Stream, headers: IncomingHttpHeaders): void {
    const p = this.pipeline;
    const method = String(headers[':method'] ?? 'GET');
    const authority = String(headers[':authority'] ?? '');
    const path = String(headers[':path'] ?? '/');
    // https: a request from a browser connection whose TLS the server resigned; sc makes the TLS to the site.
    const https = headers[':scheme'] === 'https';
    const target = secured(targetOf(authority, https ? 443 : 80), https);
    const cl = headers['content-length'];
    const n = cl === undefined ? -1 : /^\d{1,15}$/.test(cl) ? Number(cl) : NaN;
    if (!target || !path.startsWith('/') || Number.isNaN(n)) {
      p.countError('bad_request');
      return failStream(stream, 'bad_request', method, `bad target "${authority}${path}"`);
    }
    const tx = p.begin(method, `${https ? 'https' : 'http'}://${authority}${path}`, 'stream');
    const fields = h2Fields(headers);
    if (p.deps.logHttp) tx.reqHeaders = fieldsRecord(fields);
    const decision = p.decide(target);
    if (decision.action === 'deny') {
      p.countError(decision.code);
      tx.finish(decision.code);
      return failStream(stream, decision.code, method, decision.detail);
    }
    // HTTP/2 has no body framing of its own: a body of unknown length goes to the target chunked.
    const body: Body =
      stream.endAfterHeaders || n === 0
        ? { kind: 'none' }
        : n > 0
          ? { kind: 'length', n }
          : { kind: 'chunked' };
    const head = p.requestHead(method, path, target, fields, [], body, undefined, tx);
    const ex = new Exchange(
      p,
      this.pool,
      new StreamDownstream(stream, method, p),
      { method, target, head, body },
      tx,
    );
    ex.chunkEnd = body.kind === 'chunked';
    ex.start();
    stream.on('close', () => {
      if (!ex.finished) ex.cancel();
      if (stream.rstCode && stream.rstCode !== NGHTTP2_CANCEL)
        this.pipeline.deps.log.debug('stream reset', { code: stream.rstCode });
    });
    if (body.kind === 'none') {
      ex.endBody();
      if (!stream.readableEnded) stream.resume();
      return;
    }
    stream.on('data', (chunk: Buffer) => {
      const framed =
        body.kind === 'chunked'
          ? Buffer.concat([Buffer.from(`${chunk.length.toString(16)}\r\n`, 'latin1'), chunk, CRLF])
          : chunk;
      if (chunk.length > 0 && !ex.write(framed)) {
        stream.pause();
        ex.onDrain(() => stream.resume());
      }
    });
    stream.on('end', () => ex.endBody());
  }

  /**
   * --debug-address: a local client's HTTP proxy connection (absolute-form plain-HTTP requests), relayed through
   * the same pipeline as tunnel traffic (policy, DNS, --auth, --header, timeouts, metrics, logs). CONNECT is
   * answered 400: the debug proxy carries plain HTTP only (docs/egress.md).
   */
  serveDebug(socket: Duplex): void {
    socket.on('error', () => undefined);
    const relay: Http1Relay = new Http1Relay(
      socket,
      {
        pipeline: this.pipeline,
        kind: 'debug',
        maxHeaderSize: 64 * 1024,
        idleMs: SPLICE_IDLE_MS,
        draining: () => this.draining,
      },
      () => this.relays.delete(relay),
    );
    this.relays.add(relay);
  }

  /** A browser's keep-alive connection, its first request authorised by the server: relayed request by request. */
  private splice(stream: ServerHttp2Stream, headers: IncomingHttpHeaders): void {
    if (stream.destroyed || stream.closed) return;
    const limit = Number(headers[SPLICE_MAX_HEADER]);
    const maxHeaderSize = Number.isInteger(limit) && limit >= 1024 && limit <= 1 << 20 ? limit : 16 * 1024;
    stream.respond({ ':status': 200 });
    const relay: Http1Relay = new Http1Relay(
      stream,
      {
        pipeline: this.pipeline,
        kind: 'splice',
        maxHeaderSize,
        idleMs: SPLICE_IDLE_MS,
        draining: () => this.draining,
      },
      () => this.relays.delete(relay),
    );
    this.relays.add(relay);
  }
}
