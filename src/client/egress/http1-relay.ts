/**
 * The browser side of spliced connections (docs/decisions/0006-splice.md): one browser keep-alive connection,
 * carried by one tunnel stream, proxied to the targets without terminating HTTP.
 *
 *   stream bytes ──RequestParser──> head (absolute form) ──pipeline.requestHead()──> Exchange ──> target
 *                <──response head (pipeline.responseFields(), Via in)── <──
 *   bodies are copied as they are (Content-Length counted, chunked followed by a scanner, never decoded)
 *
 * One exchange at a time per connection, in order (pipelined requests wait in the parser); the connection to the
 * target is kept for the next request to the same host:port. Everything per request (policy, dial, header
 * rules, timeouts, metrics, --log-http) is the pipeline's (pipeline.ts), the same as for the per-stream path.
 */
import type { Duplex } from 'node:stream';
import { errorResponse, type ProxyErrorCode } from '../../protocol/errors.js';
import { RequestParser, type RequestHead, type ResponseHead } from '../../protocol/http1-exchange.js';
import { values } from '../../protocol/http1-framing.js';
import {
  Exchange,
  fieldsRecord,
  StickyPool,
  targetOfUrl,
  type Downstream,
  type EgressPipeline,
} from './pipeline.js';

export interface RelayDeps {
  pipeline: EgressPipeline;
  /** For the inspector: a spliced browser connection or a --debug-address client. */
  kind: 'splice' | 'debug';
  maxHeaderSize: number;
  idleMs: number;
  draining(): boolean;
}

/** Browser bytes buffered while an exchange is in progress before the stream is paused. */
const MAX_BUFFERED = 1024 * 1024;

export class Http1Relay implements Downstream {
  readonly decode = false;
  private readonly parser: RequestParser;
  private readonly pool = new StickyPool();
  private ex: Exchange | null = null;
  private reqDone = false;
  private closeAfter = false;
  private bound: string | undefined;
  private boundSet = false;
  private browserEnded = false;
  private closed = false;
  private tornDown = false;
  /** One timer, refreshed per use rather than created per request; its callback checks the state. */
  private readonly idle: NodeJS.Timeout;
  /** A rewritten response head not yet written: it goes with the first body bytes. */
  private pendingHead: Buffer | null = null;

  constructor(
    private readonly s: Duplex,
    private readonly deps: RelayDeps,
    private readonly onClose: () => void,
  ) {
    this.parser = new RequestParser(
      {
        head: (h) => this.request(h),
        body: (b) => this.requestBody(b),
        end: () => this.requestEnd(),
        error: (e) => this.reject(e.code, e.message),
      },
      { maxHeaderSize: deps.maxHeaderSize },
    );
    s.on('data', (c: Buffer) => {
      if (this.closed) return; // answered and ending: whatever else the client sends is dropped
      this.parser.push(c);
      if (this.parser.buffered > MAX_BUFFERED) s.pause();
    });
    s.on('end', () => {
      this.browserEnded = true;
      if (!this.ex) this.finish();
      else if (!this.reqDone) this.ex.truncate('the connection ended inside the request body');
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

  // ---- requests -------------------------------------------------------------------------------------------

  private request(h: RequestHead): void {
    const p = this.deps.pipeline;
    if (h.method === 'CONNECT' || values(h.head, 'upgrade').length > 0)
      return this.reject('bad_request', `${h.method} on a reused proxy connection; open a new one`);
    // The server checked the first request's credentials; a different value ends the connection unanswered,
    // so the client retries on a fresh one, which the server checks.
    const auths = values(h.head, 'proxy-authorization');
    if (auths.length > 1) return this.reject('bad_request', 'more than one Proxy-Authorization');
    const auth = auths[0];
    if (!this.boundSet) {
      this.bound = auth;
      this.boundSet = true;
    } else if (auth !== this.bound) {
      this.closed = true;
      this.s.destroy();
      return;
    }
    let url: URL;
    try {
      url = new URL(h.target);
    } catch {
      return this.reject('bad_request', 'expected an absolute http:// URL');
    }
    if (url.protocol !== 'http:' || !url.hostname || url.username || url.password)
      return this.reject('bad_request', 'expected an absolute http:// URL');
    const target = targetOfUrl(url);

    this.closeAfter = !h.keepAlive;
    this.reqDone = false;
    const tx = p.begin(h.method, url.href, this.deps.kind);
    if (p.deps.logHttp) tx.reqHeaders = fieldsRecord(h.head.fields);
    const decision = p.decide(target);
    if (decision.action === 'deny') {
      p.countError(decision.code);
      tx.finish(decision.code);
      return this.writeError(decision.code, decision.detail, h.method === 'HEAD');
    }
    const head = p.requestHead(
      h.method,
      url.pathname + url.search,
      target,
      h.head.fields,
      h.connection,
      h.body,
      h.http10 ? '1.0' : '1.1',
      tx,
    );
    const ex = new Exchange(p, this.pool, this, { method: h.method, target, head, body: h.body }, tx);
    this.ex = ex;
    ex.start();
  }

  private requestBody(buf: Buffer): void {
    const ex = this.ex;
    if (!ex || ex.finished) return;
    if (!ex.write(buf)) {
      this.s.pause();
      ex.onDrain(() => this.s.resume());
    }
  }

  private requestEnd(): void {
    this.reqDone = true;
    this.ex?.endBody();
  }

  // ---- Downstream: the response -----------------------------------------------------------------------------

  interim(_res: ResponseHead, raw: Buffer): void {
    // 100 Continue and other interim answers go on as they are; the final one follows.
    this.s.write(raw);
  }

  head(res: ResponseHead): boolean {
    if (this.closed || this.s.destroyed) return false;
    if (res.body.kind === 'close' || this.deps.draining()) this.closeAfter = true;
    let out = `HTTP/1.1 ${res.status}${res.reason ? ` ${res.reason}` : ''}`;
    for (const [n, v] of this.deps.pipeline.responseFields(res, res.http10 ? '1.0' : '1.1'))
      out += `\r\n${n}: ${v}`;
    if (res.body.kind === 'chunked') out += '\r\nTransfer-Encoding: chunked';
    if (this.closeAfter) out += '\r\nConnection: close';
    const buf = Buffer.from(`${out}\r\n\r\n`, 'latin1');
    // A small response usually arrives whole: head and body leave in one write (one DATA frame).
    if (res.body.kind === 'none') this.s.write(buf);
    else this.pendingHead = buf;
    return true;
  }

  body(chunk: Buffer): boolean {
    let out = chunk;
    if (this.pendingHead) {
      out = Buffer.concat([this.pendingHead, chunk]);
      this.pendingHead = null;
    }
    return this.s.write(out);
  }

  onDrain(cb: () => void): void {
    this.s.once('drain', cb);
  }

  end(): void {
    if (this.pendingHead) {
      this.s.write(this.pendingHead);
      this.pendingHead = null;
    }
    this.ex = null;
    // A response that ends before its request body did leaves the rest of the body unread: close.
    if (this.closeAfter || !this.reqDone) return this.finish();
    this.s.resume();
    this.parser.next();
    if (this.ex || this.closed) return;
    if (this.browserEnded) this.finish();
    else this.idle.refresh();
  }

  fail(code: ProxyErrorCode, detail: string): void {
    const ex = this.ex;
    this.ex = null;
    this.pendingHead = null;
    if (ex?.hasAnswered) {
      this.closed = true;
      this.s.destroy();
      return;
    }
    this.writeError(code, detail, ex?.method === 'HEAD');
  }

  // ---- endings --------------------------------------------------------------------------------------------

  /** A request refused before it started. */
  private reject(code: ProxyErrorCode, detail?: string): void {
    this.deps.pipeline.countError(code);
    this.writeError(code, detail, false);
  }

  private writeError(code: ProxyErrorCode, detail: string | undefined, head: boolean): void {
    this.pool.destroy();
    if (this.closed || this.s.destroyed) return;
    this.s.end(errorResponse(code, detail, {}, !head));
    this.closed = true;
    clearTimeout(this.idle);
  }

  private finish(): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.idle);
    this.pool.destroy();
    this.s.end();
  }

  private teardown(): void {
    clearTimeout(this.idle);
    if (this.tornDown) return;
    this.tornDown = true;
    this.closed = true;
    const ex = this.ex;
    this.ex = null;
    ex?.cancel();
    this.pool.destroy();
    this.onClose();
  }
}
