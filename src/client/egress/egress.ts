/**
 * The private-network half of every proxied request: a stream arrives from the server over the tunnel, and `sc`
 * fetches it from the target.
 *
 *   tunnel stream {:method GET, :authority app:3000, :path /x} ──> http.request(app:3000 GET /x) ──> response
 *   tunnel stream {:method CONNECT, :authority app:443}        ──> net.connect(app:443) ──> byte pipe
 *   tunnel stream {:method CONNECT, x-sluice-splice: http/1.1} ──> a browser's whole keep-alive connection,
 *       relayed request by request reading only the heads (http1-relay.ts, docs/decisions/0006-splice.md)
 *
 * Failures answer with the status and X-Sluice-Error code from protocol/errors.ts.
 */
import http, { type IncomingMessage } from 'node:http';
import type net from 'node:net';
import http2, { type IncomingHttpHeaders, type ServerHttp2Stream } from 'node:http2';
import type { HttpLogEntry } from '../../observability/http-log.js';
import type { Logger } from '../../observability/log.js';
import {
  ERROR_HEADER,
  codeForSocketError,
  errorBody,
  proxyErrors,
  type ProxyErrorCode,
} from '../../protocol/errors.js';
import { coalescingPipe } from '../../protocol/coalescing-pipe.js';
import { endToEndHeaders, SPLICE_HEADER, SPLICE_MAX_HEADER } from '../../protocol/tunnel-protocol.js';
import type { ClientMetrics } from '../api/metrics.js';
import { checkHost, connect, PolicyAgent, PolicyError, type DialPolicy } from './dialer.js';
import { Http1Relay } from './http1-relay.js';

export interface EgressConfig extends DialPolicy {
  idleConnTimeoutMs: number;
  responseHeaderTimeoutMs: number;
}

export interface EgressDeps {
  log: Logger;
  metrics: ClientMetrics;
  /** --log-http for the proxy module; called once per finished request. */
  logHttp?: (e: HttpLogEntry) => void;
}

const { NGHTTP2_CANCEL, NGHTTP2_CONNECT_ERROR } = http2.constants;
/** How long a spliced browser connection may sit idle between requests (it holds a tunnel stream meanwhile). */
const SPLICE_IDLE_MS = 20_000;
/** After SIGTERM, how long an idle spliced connection may still bring one last request. */
const DRAIN_IDLE_GRACE_MS = 1000;

function splitAuthority(authority: string, defaultPort: number): { host: string; port: number } | null {
  const m = /^(\[[0-9a-fA-F:.]+\]|[^:\s/@]+)(?::(\d{1,5}))?$/.exec(authority);
  if (!m) return null;
  const port = m[2] ? Number(m[2]) : defaultPort;
  return port > 0 && port < 65536 ? { host: m[1]!, port } : null;
}

export class Egress {
  private readonly agent: PolicyAgent;
  private draining = false;
  private readonly relays = new Set<Http1Relay>();

  constructor(
    private readonly cfg: EgressConfig,
    private readonly deps: EgressDeps,
  ) {
    this.agent = new PolicyAgent(cfg, cfg.idleConnTimeoutMs);
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
    this.agent.destroy();
  }

  private errorCode(err: unknown): ProxyErrorCode {
    if (err instanceof PolicyError) return this.cfg.proxyLocalhost === 'deny' ? 'localhost_denied' : 'denied';
    return codeForSocketError(err);
  }

  private failStream(stream: ServerHttp2Stream, code: ProxyErrorCode, method: string, detail?: string): void {
    this.deps.metrics.proxyErrorsTotal.inc({ reason: code });
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

  private connect(stream: ServerHttp2Stream, headers: IncomingHttpHeaders): void {
    const authority = String(headers[':authority'] ?? '');
    const target = splitAuthority(authority, 0);
    if (!target)
      return this.failStream(stream, 'bad_request', 'CONNECT', `bad CONNECT target "${authority}"`);
    const { metrics } = this.deps;
    metrics.httpRequestsInFlight.inc({ method: 'CONNECT' });
    const started = Date.now();
    connect(this.cfg, target.host, target.port).then(
      (socket) => this.pipe(stream, socket, authority, started),
      (err: unknown) => {
        metrics.dialerErrorsTotal.inc({ host: authority });
        metrics.httpRequestsInFlight.dec({ method: 'CONNECT' });
        const code = this.errorCode(err);
        metrics.httpRequestsTotal.inc({ code: String(proxyErrors[code].status), method: 'CONNECT' });
        this.deps.logHttp?.({
          method: 'CONNECT',
          url: authority,
          status: proxyErrors[code].status,
          durationMs: Date.now() - started,
          error: code,
        });
        this.failStream(stream, code, 'CONNECT', authority);
      },
    );
  }

  /** A connected CONNECT target: bytes both ways until either side closes. */
  private pipe(stream: ServerHttp2Stream, socket: net.Socket, authority: string, started: number): void {
    const { metrics } = this.deps;
    metrics.dialerDialedTotal.inc({ host: authority });
    if (stream.destroyed || stream.closed) {
      socket.destroy();
    } else {
      stream.respond({ ':status': 200 });
      socket.pipe(stream);
      coalescingPipe(stream, socket);
    }
    socket.on('error', () => {
      if (!stream.closed) stream.close(NGHTTP2_CONNECT_ERROR);
    });
    stream.on('close', () => socket.destroy());
    socket.once('close', () => {
      metrics.dialerClosedTotal.inc({ host: authority });
      metrics.httpRequestsInFlight.dec({ method: 'CONNECT' });
      metrics.httpRequestsTotal.inc({ code: '200', method: 'CONNECT' });
      this.deps.logHttp?.({
        method: 'CONNECT',
        url: authority,
        status: 200,
        durationMs: Date.now() - started,
      });
      if (!stream.closed) stream.end();
    });
  }

  /** One request per stream (requests the server did not splice: shared tunnels, upgrades, --proxy-splice off). */
  private request(stream: ServerHttp2Stream, headers: IncomingHttpHeaders): void {
    const method = String(headers[':method'] ?? 'GET');
    const authority = String(headers[':authority'] ?? '');
    const path = String(headers[':path'] ?? '/');
    const target = splitAuthority(authority, 80);
    if (!target || !path.startsWith('/'))
      return this.failStream(stream, 'bad_request', method, `bad target "${authority}${path}"`);
    try {
      checkHost(this.cfg, target.host);
    } catch (err) {
      return this.failStream(stream, this.errorCode(err), method, target.host);
    }
    const { metrics } = this.deps;
    const started = Date.now();
    const end = metrics.httpRequestDuration.startTimer({ method });
    metrics.httpRequestsInFlight.inc({ method });
    let status = 0;
    let finished = false;
    let resHeaders: Record<string, unknown> | undefined;
    const outHeaders: Record<string, string | string[]> = { ...endToEndHeaders(headers), host: authority };
    const done = (error?: string): void => {
      if (finished) return;
      finished = true;
      metrics.httpRequestsInFlight.dec({ method });
      metrics.httpRequestsTotal.inc({ code: String(status), method });
      end({ code: String(status) });
      this.deps.logHttp?.({
        method,
        url: `http://${authority}${path}`,
        status,
        durationMs: Date.now() - started,
        reqHeaders: outHeaders,
        resHeaders,
        error,
      });
    };
    const req = http.request({
      host: target.host.replace(/^\[|\]$/g, ''),
      port: target.port,
      method,
      path,
      headers: outHeaders,
      agent: this.agent,
      setHost: false,
    });
    let headerTimer: NodeJS.Timeout | undefined;
    if (this.cfg.responseHeaderTimeoutMs > 0) {
      headerTimer = setTimeout(() => {
        req.destroy(Object.assign(new Error('response header timeout'), { code: 'ESC_RESPONSE_TIMEOUT' }));
      }, this.cfg.responseHeaderTimeoutMs);
    }
    req.on('response', (res: IncomingMessage) => {
      clearTimeout(headerTimer);
      resHeaders = res.headers;
      status = res.statusCode ?? 502;
      if (stream.destroyed) return res.destroy();
      try {
        stream.respond({ ...endToEndHeaders(res.headers), ':status': status }, { endStream: false });
      } catch {
        status = 502;
        res.destroy();
        return this.failStream(stream, 'upstream_reset', method, 'invalid response header from target');
      }
      res.pipe(stream);
      res.on('error', () => stream.close(NGHTTP2_CONNECT_ERROR));
      res.on('end', () => done());
    });
    req.on('error', (err) => {
      clearTimeout(headerTimer);
      const code = this.errorCode(err);
      if (status === 0) status = proxyErrors[code].status;
      this.failStream(stream, code, method, `${target.host}:${target.port}`);
      done(code);
    });
    stream.on('close', () => {
      clearTimeout(headerTimer);
      if (!finished) {
        req.destroy();
        done('canceled');
      }
      if (stream.rstCode && stream.rstCode !== NGHTTP2_CANCEL)
        this.deps.log.debug('stream reset', { code: stream.rstCode });
    });
    coalescingPipe(stream, req);
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
        policy: this.cfg,
        metrics: this.deps.metrics,
        logHttp: this.deps.logHttp,
        maxHeaderSize,
        idleMs: SPLICE_IDLE_MS,
        draining: () => this.draining,
        errorCode: (err) => this.errorCode(err),
      },
      () => this.relays.delete(relay),
    );
    this.relays.add(relay);
  }
}
