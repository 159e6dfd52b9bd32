/**
 * sc's one egress pipeline for plain HTTP (docs/decisions/0010-egress-pipeline.md): the per-request rules and the
 * target leg, shared by the per-stream path (egress.ts, a request arrives as an HTTP/2 stream) and the splice
 * relay (http1-relay.ts, requests arrive as HTTP/1 bytes on one stream).
 *
 *   request (method, target, fields) ──decide──> deny: error answer
 *        │                                └──> dial through the Dialer (or a kept-alive target connection)
 *        └─ requestHead(): hop-by-hop out, Host, Via, header rules, auth ──> target
 *   target bytes ──ResponseParser (protocol/http1-exchange.ts)──> Downstream.head/body/end (responseFields())
 *   finish: metrics (sauce_connect_http_*), --log-http and the --inspector record, once per request, whichever
 *   path carried it (the record also takes the head as sent, the bodies and the dial's route on the way)
 *
 * Everything a later rule needs (domain routing, upstream proxies, --header, --auth) has one place here: the
 * decision, the injected Dialer, and the RequestRules hooks.
 */
import type net from 'node:net';
import type { HttpLogEntry } from '../../observability/http-log.js';
import type { Logger } from '../../observability/log.js';
import { codeForSocketError, proxyErrors, type ProxyErrorCode } from '../../protocol/errors.js';
import {
  ParseError,
  ResponseParser,
  type ResponseEvents,
  type ResponseHead,
} from '../../protocol/http1-exchange.js';
import type { Body } from '../../protocol/http1-framing.js';
import { isHopByHop, withVia } from '../../protocol/tunnel-protocol.js';
import type { ClientMetrics } from '../api/metrics.js';
import type { Inspector, InspectorRecord, RecordKind } from '../inspector/recorder.js';
import { checkHost, connect, PolicyError, type DialPolicy } from './dialer.js';
import { handshake, targetSecureContext, TargetTlsError, type TargetTlsOptions } from './target-tls.js';

/** Header fields in order, names as sent. */
export type Fields = [string, string][];

export interface EgressConfig extends DialPolicy {
  idleConnTimeoutMs: number;
  responseHeaderTimeoutMs: number;
  /** TLS to real sites for resigned requests (default: system CA files and Node's roots, 10 s handshake). */
  targetTls?: TargetTlsOptions;
}

/** Where a request goes. */
export interface Target {
  /** The host as written in a URL (IPv6 in brackets). */
  hostname: string;
  /** The host to dial (no brackets). */
  host: string;
  port: number;
  /** host:port, the key of kept-alive connections. */
  key: string;
  /** The Host header value: the authority as the client wrote it. */
  authority: string;
  /** A resigned request (https, wss): TLS to the target, its certificate verified (target-tls.ts). */
  tls?: boolean;
}

/** A Target from an authority (`host`, `host:port`, `[v6]:port`), or null when it is not one. */
export function targetOf(authority: string, defaultPort: number): Target | null {
  const m = /^(\[[0-9a-fA-F:.]+\]|[^:\s/@[\]]+)(?::(\d{1,5}))?$/.exec(authority);
  if (!m) return null;
  const port = m[2] ? Number(m[2]) : defaultPort;
  if (!(port > 0 && port < 65536)) return null;
  const hostname = m[1]!;
  const host = hostname.replace(/^\[|\]$/g, '');
  return { hostname, host, port, key: `${host}:${port}`, authority };
}

/** The Target of an absolute http:// URL (already parsed, so no second look at the authority). */
export function targetOfUrl(url: URL): Target {
  const hostname = url.hostname;
  const host = hostname.charCodeAt(0) === 0x5b ? hostname.slice(1, -1) : hostname;
  const port = url.port ? Number(url.port) : 80;
  return { hostname, host, port, key: `${host}:${port}`, authority: url.host };
}

/** What the pipeline does with a request: dial its target, or refuse it with an error code. */
export type Decision = { action: 'dial' } | { action: 'deny'; code: ProxyErrorCode; detail: string };

const DIAL: Decision = { action: 'dial' };

/** Opens the connection to a target; replaced by an upstream proxy, PAC or DNS-aware dialer later on. */
export type Dialer = (target: Target) => Promise<net.Socket>;

/** Per-request rewriting hooks (`--header`, `--auth`). */
export interface RequestRules {
  /** Edits the outgoing request fields in place (add, set, remove). */
  headers?(fields: Fields, target: Target): void;
  /** An Authorization value for a request to `target` that carries none. */
  authorization?(target: Target): string | undefined;
  /**
   * An Authorization value made asynchronously (Kerberos, --kerberos-enabled-hosts), or undefined when `target`
   * gets none. It replaces any Authorization the request carries. Asked once per attempt (a retried request gets
   * a fresh one: servers refuse a replayed token); the exchange waits for it before it sends the head.
   */
  negotiate?(target: Target): Promise<string> | undefined;
}

export interface PipelineDeps {
  log: Logger;
  metrics: ClientMetrics;
  /** --log-http for the proxy module; called once per finished request. */
  logHttp?: (e: HttpLogEntry) => void;
  /** Default: a TCP connection under the localhost policy with --http-dial-* retries. */
  dialer?: Dialer;
  rules?: RequestRules;
  /** --inspector: every request recorded (undefined when off: each hook is then one null check). */
  inspector?: Inspector;
}

/**
 * How a Dialer reached a target, for the inspector: dialers other than the plain one label their sockets
 * ("proxy http://host:port", "pac: direct"); an unlabelled socket was dialed directly.
 */
const dialRoutes = new WeakMap<net.Socket, string>();

export function labelRoute(socket: net.Socket, route: string): net.Socket {
  dialRoutes.set(socket, route);
  return socket;
}

export function routeOf(socket: net.Socket): string {
  return dialRoutes.get(socket) ?? 'direct';
}

/** The label of sauce_connect_errors_total for failures of proxied requests. */
export const ERRORS_NAME = 'proxy';

interface Bound {
  inFlight: { inc(): void; dec(): void };
  byCode(status: number): Done;
}
interface Done {
  total: { inc(): void };
  duration: { observe(v: number): void };
  reqSize: { observe(v: number): void };
  resSize: { observe(v: number): void };
}

/** One proxied request's record: metrics and the --log-http line, written once by finish(). */
export class Transaction {
  status = 0;
  /** Bytes sent to the target: the request head as rewritten, then the body as framed on the wire. */
  requestBytes = 0;
  /** Bytes received from the target: the response head(s), then the body as framed on the wire. */
  responseBytes = 0;
  reqHeaders?: Record<string, string>;
  resHeaders?: Record<string, string>;
  finished = false;
  readonly t0 = process.hrtime.bigint();
  /** The inspector's record of this request (--inspector only). */
  rec: InspectorRecord | undefined;

  constructor(
    private readonly p: EgressPipeline,
    readonly method: string,
    readonly url: string,
    readonly bound: Bound,
  ) {}

  /** Records the request: status (the error table's when `error` is set and none was answered), sizes, log. */
  finish(error?: ProxyErrorCode | 'canceled'): void {
    if (this.finished) return;
    this.finished = true;
    this.p.record(this, error);
  }
}

/** Fields as a record for --log-http, without credentials. */
export function fieldsRecord(fields: Fields): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [n, v] of fields) {
    const l = n.toLowerCase();
    if (l === 'proxy-authorization') continue;
    out[l] = out[l] ? `${out[l]}, ${v}` : v;
  }
  return out;
}

export class EgressPipeline {
  readonly dial: Dialer;
  private readonly bound = new Map<string, Bound>();

  constructor(
    readonly cfg: EgressConfig,
    readonly deps: PipelineDeps,
  ) {
    const dial: Dialer = deps.dialer ?? ((t) => connect(cfg, t.host, t.port));
    let tlsOptions = cfg.targetTls;
    const secure = (): TargetTlsOptions =>
      (tlsOptions ??= { secureContext: targetSecureContext([]), handshakeTimeoutMs: 10_000 });
    this.dial = (t) => (t.tls ? dial(t).then((raw) => handshake(raw, t, secure())) : dial(t));
  }

  /** The detail of a failed dial: a TLS failure names its cause, others the target. */
  errorDetail(err: unknown, target: Target): string {
    return err instanceof TargetTlsError ? err.message : target.key;
  }

  /** The target policy: today --proxy-localhost (before any DNS; the dialer checks resolved addresses). */
  decide(target: Target): Decision {
    try {
      checkHost(this.cfg, target.hostname);
    } catch (err) {
      return { action: 'deny', code: this.errorCode(err), detail: target.hostname };
    }
    return DIAL;
  }

  errorCode(err: unknown): ProxyErrorCode {
    if (err instanceof PolicyError) return this.cfg.proxyLocalhost === 'deny' ? 'localhost_denied' : 'denied';
    if (err instanceof ParseError) return 'upstream_reset';
    if (err instanceof TargetTlsError) return 'target_tls_failed';
    return codeForSocketError(err);
  }

  /**
   * The request head for the target, origin form: the target's authority as Host (RFC 9112 3.2.2), the
   * end-to-end fields as sent (Content-Length among them), the header rules and auth applied,
   * `Transfer-Encoding: chunked` for a chunked `body`, and Via with our hop when `via` names the protocol version
   * the client spoke (on the per-stream path the server already added it).
   */
  requestHead(
    method: string,
    path: string,
    target: Target,
    fields: Fields,
    connection: readonly string[],
    body: Body,
    via?: string,
    tx?: Transaction,
  ): string {
    let out: Fields = [];
    let prior: string | undefined;
    for (const f of fields) {
      const l = f[0].toLowerCase();
      if (l === 'host' || isHopByHop(l, connection)) continue;
      if (via !== undefined && l === 'via') prior = prior ? `${prior}, ${f[1]}` : f[1];
      else out.push(f);
    }
    const rules = this.deps.rules;
    let injected = false;
    if (rules) {
      if (rules.authorization && !out.some(([n]) => n.toLowerCase() === 'authorization')) {
        const v = rules.authorization(target);
        if (v) {
          out.push(['Authorization', v]);
          injected = true;
        }
      }
      if (rules.headers) {
        out = out.slice();
        rules.headers(out, target);
      }
    }
    let head = `${method} ${path} HTTP/1.1\r\nHost: ${target.authority}`;
    for (const [n, v] of out) head += `\r\n${n}: ${v}`;
    if (body.kind === 'chunked') head += '\r\nTransfer-Encoding: chunked';
    if (via !== undefined) head += `\r\nVia: ${withVia(prior, via)}`;
    head += '\r\n\r\n';
    tx?.rec?.sent(head, injected, rules?.headers !== undefined);
    return head;
  }

  /**
   * A response's end-to-end fields (hop-by-hop ones out, Transfer-Encoding among them; Content-Length stays),
   * Via with our hop when `via` is set.
   */
  responseFields(res: ResponseHead, via?: string): Fields {
    const out: Fields = [];
    let prior: string | undefined;
    const { fields, lower } = res.head;
    for (let i = 0; i < fields.length; i++) {
      const l = lower[i]!;
      if (isHopByHop(l, res.connection)) continue;
      if (via !== undefined && l === 'via') prior = prior ? `${prior}, ${fields[i]![1]}` : fields[i]![1];
      else out.push(fields[i]!);
    }
    if (via !== undefined) out.push(['Via', withVia(prior, via)]);
    return out;
  }

  /** Starts the record of a request (in-flight gauge up). */
  begin(method: string, url: string, kind: RecordKind): Transaction {
    let b = this.bound.get(method);
    if (!b) this.bound.set(method, (b = bind(this.deps.metrics, method)));
    b.inFlight.inc();
    const tx = new Transaction(this, method, url, b);
    if (this.deps.inspector) tx.rec = this.deps.inspector.begin(kind, method, url);
    return tx;
  }

  /** An error answered or reset by the pipeline (also for requests refused before they began). */
  countError(code: ProxyErrorCode): void {
    this.deps.metrics.proxyErrorsTotal.inc({ reason: code });
    this.deps.metrics.errorsTotal.inc({ name: ERRORS_NAME });
  }

  /** @internal Transaction.finish */
  record(tx: Transaction, error?: ProxyErrorCode | 'canceled'): void {
    if (error && error !== 'canceled' && tx.status === 0) tx.status = proxyErrors[error].status;
    const ns = Number(process.hrtime.bigint() - tx.t0);
    tx.bound.inFlight.dec();
    const d = tx.bound.byCode(tx.status);
    d.total.inc();
    d.duration.observe(ns / 1e9);
    d.reqSize.observe(tx.requestBytes);
    d.resSize.observe(tx.responseBytes);
    this.deps.logHttp?.({
      method: tx.method,
      url: tx.url,
      status: tx.status,
      durationMs: Math.round(ns / 1e6),
      reqHeaders: tx.reqHeaders,
      resHeaders: tx.resHeaders,
      error,
    });
    const rec = tx.rec;
    if (rec) {
      if (!rec.route && (error === 'denied' || error === 'localhost_denied')) rec.route = 'denied';
      rec.finish(tx.status, error, tx.requestBytes, tx.responseBytes);
    }
  }
}

/** Label children bound once per method and status: per request, no label hashing. */
function bind(m: ClientMetrics, method: string): Bound {
  const codes = new Map<number, Done>();
  return {
    inFlight: m.httpRequestsInFlight.labels({ method }),
    byCode(status) {
      let c = codes.get(status);
      if (!c) {
        const labels = { code: String(status), method };
        c = {
          total: m.httpRequestsTotal.labels(labels),
          duration: m.httpRequestDuration.labels(labels),
          reqSize: m.httpRequestSize.labels(labels),
          resSize: m.httpResponseSize.labels(labels),
        };
        codes.set(status, c);
      }
      return c;
    },
  };
}

// ---- the target leg ---------------------------------------------------------------------------------------

/** Where an exchange's response goes: an HTTP/2 stream (per-stream path) or the browser's bytes (relay). */
export interface Downstream {
  /** Decode chunked bodies (a peer without HTTP/1 framing). */
  readonly decode: boolean;
  interim(res: ResponseHead, raw: Buffer): void;
  /**
   * The final response head; the body follows. False ends the exchange (the downstream is gone); a string fails
   * it as upstream_reset with that detail (a head the downstream cannot carry).
   */
  head(res: ResponseHead): boolean | string;
  /** Body bytes; false when the downstream is full (the target is paused until `drained` is called). */
  body(chunk: Buffer): boolean;
  /** Calls `cb` once when the downstream can take more. */
  onDrain(cb: () => void): void;
  /** The response is complete. */
  end(): void;
  /** The exchange failed: answer with the error if nothing was answered yet, else reset. */
  fail(code: ProxyErrorCode, detail: string): void;
}

/** Idle kept-alive target connections an exchange may take (one per relay, a pool for the per-stream path). */
export interface TargetPool {
  take(key: string): TargetConnection | undefined;
  give(conn: TargetConnection): void;
}

/**
 * A connection to a target: the socket and its response parser. One exchange at a time; between exchanges it
 * sits in a TargetPool.
 */
export class TargetConnection implements ResponseEvents {
  readonly parser: ResponseParser;
  exchange: Exchange | null = null;
  /** The target may be sent another request after the current response. */
  reusable = true;
  closed = false;
  /** Called once when the connection closes (a pool drops it from its idle list). */
  onGone: (() => void) | undefined;
  private headTimer: NodeJS.Timeout | undefined;
  private awaitingHead = false;

  constructor(
    readonly socket: net.Socket,
    readonly key: string,
    private readonly pipeline: EgressPipeline,
    decode: boolean,
  ) {
    this.parser = new ResponseParser(this, { maxHeaderSize: MAX_RESPONSE_HEAD, decode });
    const metrics = pipeline.deps.metrics;
    metrics.dialerDialedTotal.inc({ host: key });
    // --http-idle-conn-timeout, armed by KeepAlivePool while the connection waits (a slow response is the
    // header timeout's business).
    socket.on('timeout', () => {
      if (!this.exchange) this.destroy();
    });
    socket.on('data', (c: Buffer) => this.data(c));
    socket.on('end', () => this.gone(false));
    socket.on('error', () => this.gone(true));
    socket.on('close', () => {
      metrics.dialerClosedTotal.inc({ host: key });
      this.gone(true);
    });
  }

  /** Sends a request head and arms --response-header-timeout (one timer per connection, refreshed). */
  send(ex: Exchange, head: string): void {
    this.exchange = ex;
    this.parser.expect(ex.method);
    const t = this.pipeline.cfg.responseHeaderTimeoutMs;
    if (t > 0) {
      this.awaitingHead = true;
      if (this.headTimer) this.headTimer.refresh();
      else
        this.headTimer = setTimeout(() => {
          if (this.awaitingHead && this.exchange) this.exchange.timeout();
        }, t).unref();
    }
    // A string: the socket converts it natively, no Buffer to allocate (plain TCP, not HTTP/2).
    this.socket.write(head, 'latin1');
  }

  destroy(): void {
    if (!this.closed) this.onGone?.();
    this.closed = true;
    this.reusable = false;
    clearTimeout(this.headTimer);
    this.exchange = null;
    this.socket.destroy();
  }

  private data(c: Buffer): void {
    const ex = this.exchange;
    if (!ex) return this.destroy(); // nothing was asked: the target is out of step
    ex.tx.responseBytes += c.length;
    ex.tx.rec?.firstByte();
    this.parser.push(c);
  }

  private gone(failed: boolean): void {
    if (this.closed) return;
    this.onGone?.();
    this.closed = true;
    this.reusable = false;
    clearTimeout(this.headTimer);
    const ex = this.exchange;
    // A body delimited by the close ends here (end() runs, with the exchange still attached).
    const ended = ex !== null && !failed && this.parser.eof();
    this.exchange = null;
    this.socket.destroy();
    if (!ended) ex?.targetGone();
  }

  // ResponseEvents (the parser calls these while data() runs)
  interim(res: ResponseHead, raw: Buffer): void {
    this.exchange?.interim(res, raw);
  }
  head(res: ResponseHead): void {
    this.awaitingHead = false;
    if (res.body.kind === 'close' || !res.keepAlive) this.reusable = false;
    this.exchange?.head(res);
  }
  body(chunk: Buffer): void {
    this.exchange?.body(chunk);
  }
  end(): void {
    const ex = this.exchange;
    this.exchange = null;
    if (this.parser.buffered > 0) this.reusable = false; // more than the response: out of step
    ex?.end(this);
  }
  error(err: ParseError): void {
    this.reusable = false;
    this.exchange?.failed('upstream_reset', err.message);
  }
}

/** Largest response head accepted from a target. */
const MAX_RESPONSE_HEAD = 64 * 1024;

/** A request as the pipeline sends it. */
export interface OutboundRequest {
  method: string;
  target: Target;
  /** From EgressPipeline.requestHead. */
  head: string;
  body: Body;
}

/**
 * One request/response over a target connection: dial (or reuse), the request head and body out, the response
 * back to the Downstream, the record finished once. A bodiless request sent on a kept-alive connection that the
 * target closed before answering is sent once more on a fresh one.
 */
export class Exchange {
  readonly method: string;
  conn: TargetConnection | null = null;
  /** The head as sent: the request's, with the RequestRules' negotiate value when it has one. */
  private sentHead: string;
  /** Body bytes written before the target connection was ready. */
  private pending: Buffer[] | null = [];
  private ended = false;
  private answered = false;
  private done = false;
  private reused = false;
  private drainWaiters: (() => void)[] = [];

  constructor(
    private readonly p: EgressPipeline,
    private readonly pool: TargetPool,
    private readonly down: Downstream,
    readonly req: OutboundRequest,
    readonly tx: Transaction,
  ) {
    this.method = req.method;
    this.sentHead = req.head;
  }

  get finished(): boolean {
    return this.done;
  }

  /** The response has begun reaching the downstream (an error can then only reset it). */
  get hasAnswered(): boolean {
    return this.answered;
  }

  start(): void {
    const auth = this.p.deps.rules?.negotiate?.(this.req.target);
    if (!auth) return this.open();
    auth.then(
      (value) => {
        if (this.done) return;
        this.sentHead = withAuthorization(this.req.head, value);
        this.open();
      },
      (err: unknown) => {
        if (this.done) return;
        this.failed(this.p.errorCode(err), (err as Error).message);
      },
    );
  }

  private open(): void {
    const conn = this.pool.take(this.req.target.key);
    if (conn) {
      this.reused = true;
      this.attach(conn);
      return;
    }
    this.reused = false;
    this.p.dial(this.req.target).then(
      (socket) => {
        if (this.done) return void socket.destroy();
        this.attach(new TargetConnection(socket, this.req.target.key, this.p, this.down.decode));
      },
      (err: unknown) => {
        if (this.done) return;
        this.p.deps.metrics.dialerErrorsTotal.inc({ host: this.req.target.key });
        this.failed(this.p.errorCode(err), this.p.errorDetail(err, this.req.target));
      },
    );
  }

  private attach(conn: TargetConnection): void {
    this.conn = conn;
    this.tx.rec?.connected(routeOf(conn.socket), !this.reused);
    this.tx.requestBytes += this.sentHead.length;
    conn.send(this, this.sentHead);
    const pending = this.pending;
    this.pending = null;
    if (pending) for (const b of pending) this.write(b);
    if (this.ended && this.req.body.kind === 'chunked' && this.chunkEnd) this.write(LAST_CHUNK);
    if (this.truncated) return this.failed('bad_request', this.truncated);
    const waiters = this.drainWaiters;
    this.drainWaiters = [];
    for (const w of waiters) w();
  }

  /** Set by the per-stream path, whose body is re-framed as chunked: the last chunk goes at the end. */
  chunkEnd = false;

  /** Request body bytes (as they go on the wire). False: wait for onDrain before writing more. */
  write(buf: Buffer): boolean {
    if (this.done) return true;
    if (this.pending) {
      this.pending.push(buf);
      return false;
    }
    this.tx.requestBytes += buf.length;
    this.tx.rec?.requestData(buf);
    return this.conn!.socket.write(buf);
  }

  /** The request body is complete. */
  endBody(): void {
    if (this.ended) return;
    this.ended = true;
    if (!this.pending && this.req.body.kind === 'chunked' && this.chunkEnd) this.write(LAST_CHUNK);
  }

  /**
   * The client stopped sending inside the request body, which can now never end: 400 (or a reset once answered).
   * Bytes still waiting for the target connection go first, so the target sees the request it was sent.
   */
  truncate(detail: string): void {
    if (this.pending) this.truncated = detail;
    else this.failed('bad_request', detail);
  }
  private truncated: string | undefined;

  onDrain(cb: () => void): void {
    if (this.pending || !this.conn) this.drainWaiters.push(cb);
    else this.conn.socket.once('drain', cb);
  }

  /** The downstream went away: the request is abandoned, its target connection closed. */
  cancel(): void {
    if (this.done) return;
    this.done = true;
    this.conn?.destroy();
    this.tx.finish('canceled');
  }

  // ---- from the target connection ----

  interim(res: ResponseHead, raw: Buffer): void {
    this.answered = true;
    this.down.interim(res, raw);
  }

  head(res: ResponseHead): void {
    this.tx.status = res.status;
    if (this.p.deps.logHttp) this.tx.resHeaders = fieldsRecord(res.head.fields);
    this.tx.rec?.response(res, !this.down.decode && res.body.kind === 'chunked');
    const r = this.down.head(res);
    if (r === true) this.answered = true;
    else if (r === false) this.cancel();
    else {
      this.tx.status = 0;
      this.failed('upstream_reset', r);
    }
  }

  body(chunk: Buffer): void {
    if (this.done) return;
    this.tx.rec?.responseData(chunk);
    if (!this.down.body(chunk)) {
      const conn = this.conn;
      if (!conn) return;
      conn.socket.pause();
      // Only while this exchange still reads from the connection: once the response has ended, the connection
      // may already carry another exchange, which must not be resumed by this downstream's drain.
      this.down.onDrain(() => {
        if (!this.done) conn.socket.resume();
      });
    }
  }

  end(conn: TargetConnection): void {
    if (this.done) return;
    this.done = true;
    // The last body chunk may have filled the downstream and paused the target socket; a downstream that ends
    // right after (an HTTP/2 stream being ended) never emits 'drain', so resume here: a kept-alive connection
    // left paused would never read the next exchange's response (the resigned-CONNECT stall), nor the target's
    // close while idle.
    conn.socket.resume();
    // A response that ends before its request body did leaves the target reading a body nobody sends.
    if (conn.reusable && this.ended && !conn.closed) this.pool.give(conn);
    else conn.destroy();
    this.tx.finish();
    this.down.end();
  }

  timeout(): void {
    this.failed('response_timeout', this.tx.url);
  }

  targetGone(): void {
    if (this.done) return;
    if (!this.answered && this.reused && this.req.body.kind === 'none') {
      // A kept-alive connection the target closed just as the request went out: once more on a fresh one.
      this.tx.requestBytes = 0;
      this.tx.responseBytes = 0;
      this.conn = null;
      this.pending = [];
      this.start();
      this.reused = false;
      return;
    }
    this.failed('upstream_reset', 'the target closed the connection');
  }

  failed(code: ProxyErrorCode, detail: string): void {
    if (this.done) return;
    this.done = true;
    this.conn?.destroy();
    this.p.countError(code);
    if (!this.answered) this.tx.status = proxyErrors[code].status;
    this.tx.finish(code);
    this.down.fail(code, detail);
  }
}

const LAST_CHUNK = Buffer.from('0\r\n\r\n', 'latin1');

/** `head` (from requestHead) with its Authorization fields replaced by one carrying `value`. */
export function withAuthorization(head: string, value: string): string {
  const lines = head.split('\r\n');
  const out = [lines[0]!, `Authorization: ${value}`];
  for (let i = 1; i < lines.length; i++) {
    const l = lines[i]!;
    if (l.length >= 14 && l.charCodeAt(13) === 0x3a && l.slice(0, 13).toLowerCase() === 'authorization')
      continue;
    out.push(l);
  }
  return out.join('\r\n');
}

/** The per-stream path's kept-alive target connections, by host:port (at most `maxPerKey` idle each). */
export class KeepAlivePool implements TargetPool {
  private readonly idle = new Map<string, Set<TargetConnection>>();

  constructor(
    private readonly idleMs: number,
    private readonly maxPerKey = 256,
  ) {}

  take(key: string): TargetConnection | undefined {
    const set = this.idle.get(key);
    if (!set) return undefined;
    for (const c of set) {
      set.delete(c);
      if (set.size === 0) this.idle.delete(key);
      c.onGone = undefined;
      if (this.idleMs > 0) c.socket.setTimeout(0);
      if (!c.closed && c.reusable) return c;
    }
    return undefined;
  }

  give(conn: TargetConnection): void {
    let set = this.idle.get(conn.key);
    if (!set) this.idle.set(conn.key, (set = new Set()));
    if (set.size >= this.maxPerKey) return conn.destroy();
    set.add(conn);
    if (this.idleMs > 0) conn.socket.setTimeout(this.idleMs);
    conn.onGone = () => {
      const s = this.idle.get(conn.key);
      s?.delete(conn);
      if (s?.size === 0) this.idle.delete(conn.key);
    };
  }

  destroy(): void {
    for (const set of [...this.idle.values()]) for (const c of [...set]) c.destroy();
    this.idle.clear();
  }
}

/** The relay's one kept-alive target connection, for the next request to the same host:port. */
export class StickyPool implements TargetPool {
  private conn: TargetConnection | undefined;

  take(key: string): TargetConnection | undefined {
    const c = this.conn;
    this.conn = undefined;
    if (!c) return undefined;
    if (c.key === key && !c.closed && c.reusable) return c;
    c.destroy();
    return undefined;
  }

  give(conn: TargetConnection): void {
    if (this.conn && this.conn !== conn) this.conn.destroy();
    this.conn = conn;
  }

  destroy(): void {
    this.conn?.destroy();
    this.conn = undefined;
  }
}
