/**
 * The proxy entry: an HTTP forward proxy that browsers (or Selenium, Playwright, curl) point at.
 *
 *   browser ──HTTP/1.1──> proxy entry ──HTTP/2 stream over the tunnel──> sc ──> private app
 *     GET http://host/x        -> stream {:method GET, :authority host, :path /x}     (http-forward.ts)
 *     CONNECT host:443         -> stream {:method CONNECT, :authority host:443}       (byte pipe)
 *     GET ws://host/ + Upgrade -> CONNECT stream carrying the raw request             (byte pipe)
 *     CONNECT host:443, resigned -> TLS terminated here, each request as https://host/... (resign.ts)
 *
 * It is never an open proxy: every request must carry an account's credentials and name a tunnel that account
 * may use. Origin-form requests (a plain web server request) are refused.
 */
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Logger } from '../../observability/log.js';
import { RouteError, type Registry } from '../registry/registry.js';
import type { Connection } from '../registry/tunnel-connection.js';
import { PROXY_AUTHENTICATE, sendError, answeredErrors, writeSocketError } from './error-response.js';
import type { ServerMetrics } from '../metrics.js';
import { isProxyErrorCode, proxyErrors, type ProxyErrorCode } from '../../protocol/errors.js';
import { forwardConnect, forwardHttp, forwardSplice, forwardUpgrade } from './forward.js';
import { sniff, type FirstRequest } from './splice.js';
import { parseProxyAuthorization, type ProxyCredentials } from './proxy-credentials.js';
import { clientAddress, normalizeIp } from './client-address.js';
import { BlockList } from 'node:net';
import { rulesOf, type Route } from '../routing/domain-rules.js';
import type { DirectPolicy } from '../routing/direct-dial.js';
import { forwardConnectDirect, forwardHttpDirect, forwardUpgradeDirect } from './direct.js';
import type { Resigner } from '../pki/resign-ca.js';
import { createResignServer, type ResignServer } from './resign.js';

export interface RouteTarget {
  ownerId: string;
  tunnelName: string;
  /** The requester owns the tunnel (only then may its connection be spliced: its credentials travel to sc). */
  own: boolean;
}

export interface ProxyEntryDeps {
  registry: Registry;
  log: Logger;
  /** Checks credentials and the right to use the tunnel; returns where to route or why not. */
  authorize(
    creds: ProxyCredentials,
    remoteIp: string,
  ): Promise<RouteTarget | { error: ProxyErrorCode; retryAfter?: number }>;
  maxHeaderSize?: number;
  metrics?: ServerMetrics;
  /** Carry a keep-alive connection of plain requests over one tunnel stream (default true; see splice.ts). */
  splice?: boolean;
  /**
   * When set, the port a connection arrived on decides the route and Proxy-Authorization is not read: a WebDriver
   * gateway session's own port (src/server/gateway/session-ports.ts), for browsers that cannot send credentials.
   */
  authorizeByPort?(localPort: number): Promise<RouteTarget | { error: ProxyErrorCode }>;
  /** A connection must send a complete request head this soon (ms; default 5000). */
  headerTimeoutMs?: number;
  /** CONNECT, upgraded and spliced connections idle this long are closed (ms; default 300000). */
  idleTimeoutMs?: number;
  /** Open connections per source address; 0 = no limit (the default). */
  maxConnectionsPerSource?: number;
  /** Load balancers: not limited, and their X-Forwarded-For names the client (client-address.ts). */
  trustedProxies?: ReadonlySet<string>;
  /**
   * What direct routing (a tunnel's --direct-domains / --tunnel-domains) may reach (routing/direct-dial.ts).
   * Default: nothing private, and not this proxy entry's own port.
   */
  direct?: DirectPolicy;
  /**
   * TLS resigning (resign.ts, docs/routing.md): CONNECTs that the tunnel's rules resign are terminated with a leaf
   * from this CA. Without it every CONNECT is a raw pipe.
   */
  resigner?: Resigner;
}

type Denied = { error: ProxyErrorCode; detail?: string; headers?: Record<string, string> };

/** What routing needs of a request: its Proxy-Authorization and where it came from. */
interface RouteRequest {
  headers: { 'proxy-authorization'?: string | undefined; 'x-forwarded-for'?: string | string[] | undefined };
  socket: { remoteAddress?: string | undefined; localPort?: number | undefined };
}

type Routed = { conn: Connection; own: boolean };

async function route(deps: ProxyEntryDeps, req: RouteRequest): Promise<Routed | Denied> {
  if (deps.authorizeByPort) {
    const target = await deps.authorizeByPort(req.socket.localPort ?? 0);
    if ('error' in target) return { error: target.error };
    try {
      return { conn: await deps.registry.acquire(target.ownerId, target.tunnelName), own: target.own };
    } catch (err) {
      if (err instanceof RouteError) return { error: err.code, detail: target.tunnelName };
      throw err;
    }
  }
  let creds: ProxyCredentials | null;
  try {
    creds = parseProxyAuthorization(req.headers['proxy-authorization']);
  } catch (err) {
    return { error: 'proxy_auth_required', detail: (err as Error).message, headers: PROXY_AUTHENTICATE };
  }
  if (!creds) return { error: 'proxy_auth_required', headers: PROXY_AUTHENTICATE };
  if (!creds.tunnelName) {
    return { error: 'tunnel_not_found', detail: 'name the tunnel in the proxy user: <user>;tunnel=<name>' };
  }
  const source = clientAddress(
    req.socket.remoteAddress,
    req.headers['x-forwarded-for'],
    deps.trustedProxies ?? new Set(),
  );
  const target = await deps.authorize(creds, source);
  if ('error' in target) {
    const headers: Record<string, string> =
      target.error === 'proxy_auth_required'
        ? PROXY_AUTHENTICATE
        : target.retryAfter
          ? { 'retry-after': String(target.retryAfter) }
          : {};
    return {
      error: target.error,
      detail: target.error === 'tunnel_not_found' ? creds.tunnelName : undefined,
      headers,
    };
  }
  try {
    return { conn: await deps.registry.acquire(target.ownerId, target.tunnelName), own: target.own };
  } catch (err) {
    if (err instanceof RouteError) return { error: err.code, detail: creds.tunnelName };
    throw err;
  }
}

/**
 * Routes a request and hands it to `forward`, or answers `deny`. `forward` gets a retry callback that routes
 * again (twice at most) for streams the client refused while draining.
 */
function dispatch(
  deps: ProxyEntryDeps,
  req: RouteRequest,
  deny: (d: Denied) => void,
  forward: (conn: Connection, retry?: () => void, own?: boolean) => void,
  retriesLeft = 2,
): void {
  route(deps, req).then(
    (r) => {
      if ('error' in r) return deny(r);
      const retry = retriesLeft > 0 ? () => dispatch(deps, req, deny, forward, retriesLeft - 1) : undefined;
      forward(r.conn, retry, r.own);
    },
    (err: unknown) => {
      deps.log.error('proxy routing failed', { error: err });
      deny({ error: 'tunnel_stream_failed' });
    },
  );
}

/**
 * Where the tunnel's domain rules (sent by sc at creation, docs/routing.md) send a request for `host`: through
 * the tunnel, direct from the server, or nowhere (403 denied, the body naming host and rule).
 */
function routeHost(deps: ProxyEntryDeps, conn: Connection, host: string): Route | Denied {
  const record = deps.registry.get(conn.tunnelId)?.record;
  if (!record) return { action: 'tunnel' };
  const rules = rulesOf(record);
  if (rules instanceof Error)
    return { error: 'denied', detail: `the tunnel's domain rules are invalid: ${rules.message}` };
  const r = rules.decide(host);
  if (r.action === 'deny') return { error: 'denied', detail: `host "${host}" matches ${r.rule}` };
  return r;
}

/** True when the tunnel has domain rules: its connections are not spliced, so every request is routed here. */
function hasRules(deps: ProxyEntryDeps, conn: Connection): boolean {
  const record = deps.registry.get(conn.tunnelId)?.record;
  if (!record) return false;
  const rules = rulesOf(record);
  return rules instanceof Error || rules.any;
}

/** Whether a tunnelled CONNECT to `host` is resigned, by the tunnel's tls_resign/passthrough_domains. */
function resigned(deps: ProxyEntryDeps, conn: Connection, host: string): boolean {
  const record = deps.registry.get(conn.tunnelId)?.record;
  if (!record) return true;
  const rules = rulesOf(record);
  return !(rules instanceof Error) && rules.tls(host) === 'resign';
}

/** What routing needs of a CONNECT, kept for the requests inside its resigned TLS. */
function routeRequestOf(req: IncomingMessage): RouteRequest {
  return {
    headers: {
      'proxy-authorization': req.headers['proxy-authorization'],
      'x-forwarded-for': req.headers['x-forwarded-for'],
    },
    socket: { remoteAddress: req.socket.remoteAddress, localPort: req.socket.localPort },
  };
}

/** host:port of an absolute-form URL; null when it is not http(s)/ws(s). */
function absoluteTarget(url: string | undefined): URL | null {
  if (!url || !/^(https?|wss?):\/\//i.test(url)) return null;
  try {
    return new URL(url);
  } catch {
    return null;
  }
}

/** Counts a finished exchange: its status, and its X-Sluice-Error code when it failed. */
function counter(deps: ProxyEntryDeps): (method: string, status: number, error: unknown) => void {
  return (method, status, error) => {
    deps.metrics?.proxyRequestsTotal.inc({ code: String(status), method });
    if (typeof error === 'string') deps.metrics?.proxyErrorsTotal.inc({ reason: error });
  };
}

function countSocket(count: ReturnType<typeof counter>, socket: Duplex, method: string): void {
  socket.once('close', () => {
    const code = answeredErrors.get(socket);
    count(method, isProxyErrorCode(code) ? proxyErrors[code].status : 200, code);
  });
}

const accepted = new WeakMap<http.Server, Set<Socket>>();

/**
 * Stops the proxy entry: no new connections, and every open one closed now (requests in flight fail; browsers
 * retry elsewhere). Node's closeAllConnections() alone misses the sockets it has handed over: spliced
 * connections, CONNECT tunnels and upgrades, which would keep close() waiting for their clients.
 */
export function closeProxyEntry(server: http.Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
    for (const socket of accepted.get(server) ?? []) socket.destroy();
  });
}

export function createProxyEntry(deps: ProxyEntryDeps): http.Server {
  const count = counter(deps);
  const direct: DirectPolicy = deps.direct ?? {
    allowed: new BlockList(),
    ownPorts: () => {
      const a = server.address();
      return a && typeof a === 'object' ? [a.port] : [];
    },
  };
  const maxHeaderSize = deps.maxHeaderSize ?? 16 * 1024;
  const headerTimeout = deps.headerTimeoutMs ?? 5_000;
  const idleTimeout = deps.idleTimeoutMs ?? 300_000;
  const server = http.createServer({
    maxHeaderSize,
    keepAliveTimeout: 60_000,
    requestTimeout: 0,
    // Later requests on a keep-alive connection: Node answers 408 when their head is late. It checks every
    // connectionsCheckingInterval, so keep that well under the timeout. The first head is timed below.
    headersTimeout: headerTimeout,
    connectionsCheckingInterval: Math.max(50, Math.min(1000, Math.floor(headerTimeout / 4))),
  });
  const idle = (socket: Duplex): void => {
    const s = socket as Socket;
    if (typeof s.setTimeout !== 'function') return;
    s.setTimeout(idleTimeout, () => s.destroy());
  };
  const resign: ResignServer<RouteRequest> | undefined = deps.resigner
    ? createResignServer<RouteRequest>({
        resigner: deps.resigner,
        log: deps.log,
        maxHeaderSize,
        headerTimeoutMs: headerTimeout,
        idleTimeoutMs: idleTimeout,
        // Each request inside the TLS is routed as the CONNECT was (its credentials), by its own Host.
        request: (req, res, url, c) => {
          res.once('finish', () => count(req.method ?? 'GET', res.statusCode, answeredErrors.get(res)));
          dispatch(
            deps,
            c.context,
            (d) => sendError(res, d.error, d.detail, d.headers),
            (conn, retry) => {
              const r = routeHost(deps, conn, url.hostname);
              if ('error' in r) return sendError(res, r.error, r.detail);
              if (r.action === 'direct') return sendError(res, 'denied', insideResigned(url, r.rule));
              forwardHttp(conn, req, res, url, retry);
            },
          );
        },
        upgrade: (req, socket, head, url, c) => {
          countSocket(count, socket, 'UPGRADE');
          dispatch(
            deps,
            c.context,
            (d) => writeSocketError(socket, d.error, d.detail, d.headers),
            (conn) => {
              const r = routeHost(deps, conn, url.hostname);
              if ('error' in r) return writeSocketError(socket, r.error, r.detail);
              if (r.action === 'direct')
                return writeSocketError(socket, 'denied', insideResigned(url, r.rule));
              forwardUpgrade(conn, req, url, socket, head);
            },
          );
        },
      })
    : undefined;
  if (resign) server.once('close', () => resign.close());

  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    headArrived(req.socket);
    res.once('finish', () => count(req.method ?? 'GET', res.statusCode, answeredErrors.get(res)));
    const url = absoluteTarget(req.url);
    if (!url || url.protocol === 'https:' || url.protocol === 'wss:') {
      return sendError(
        res,
        'bad_request',
        'expected an absolute http:// URL or CONNECT (this is a forward proxy)',
      );
    }
    dispatch(
      deps,
      req,
      (d) => sendError(res, d.error, d.detail, d.headers),
      (conn, retry) => {
        const r = routeHost(deps, conn, url.hostname);
        if ('error' in r) return sendError(res, r.error, r.detail);
        if (r.action === 'direct') return forwardHttpDirect(direct, req, res, url);
        forwardHttp(conn, req, res, url, retry);
      },
    );
  });

  server.on('connect', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    headArrived(socket);
    idle(socket);
    socket.on('error', () => undefined);
    countSocket(count, socket, 'CONNECT');
    const authority = req.url ?? '';
    if (!/^(\[[0-9a-fA-F:.]+\]|[^:/@\s]+):\d{1,5}$/.test(authority)) {
      return writeSocketError(socket, 'bad_request', 'CONNECT needs host:port');
    }
    dispatch(
      deps,
      req,
      (d) => writeSocketError(socket, d.error, d.detail, d.headers),
      (conn, retry) => {
        const colon = authority.lastIndexOf(':');
        const host = authority.slice(0, colon);
        const r = routeHost(deps, conn, host);
        if ('error' in r) return writeSocketError(socket, r.error, r.detail);
        const port = Number(authority.slice(colon + 1));
        if (r.action === 'direct') return forwardConnectDirect(direct, host, port, socket, head);
        if (resign && resigned(deps, conn, host)) {
          return resign.terminate(socket, head, host.replace(/^\[|\]$/g, ''), port, routeRequestOf(req));
        }
        forwardConnect(conn, authority, socket, head, retry);
      },
    );
  });

  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    headArrived(socket);
    idle(socket);
    socket.on('error', () => undefined);
    countSocket(count, socket, 'UPGRADE');
    const url = absoluteTarget(req.url);
    if (!url || url.protocol === 'https:' || url.protocol === 'wss:') {
      return writeSocketError(socket, 'bad_request', 'expected an absolute ws:// or http:// URL');
    }
    dispatch(
      deps,
      req,
      (d) => writeSocketError(socket, d.error, d.detail, d.headers),
      (conn) => {
        const r = routeHost(deps, conn, url.hostname);
        if ('error' in r) return writeSocketError(socket, r.error, r.detail);
        if (r.action === 'direct') return forwardUpgradeDirect(direct, req, url, socket, head);
        forwardUpgrade(conn, req, url, socket, head);
      },
    );
  });

  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
    if (!answeredErrors.has(socket)) countSocket(count, socket, 'INVALID');
    if (err.code === 'HPE_HEADER_OVERFLOW') return writeSocketError(socket, 'header_too_large');
    if (err.code === 'ECONNRESET' || !socket.writable) return socket.destroy();
    writeSocketError(socket, 'bad_request', err.code);
  });

  // Every new connection: the per-source limit, the first head's timer, then the splice sniffer or Node's parser.
  const parse = server.listeners('connection')[0] as (socket: Socket) => void;
  server.removeListener('connection', parse);
  const fallback = (socket: Socket): void => parse.call(server, socket);
  const limit = deps.maxConnectionsPerSource ?? 0;
  const trusted = deps.trustedProxies ?? new Set<string>();
  const perSource = new Map<string, number>();
  // Every accepted socket, so shutdown can close those Node's server no longer tracks (spliced, CONNECT, upgraded).
  const sockets = new Set<Socket>();
  accepted.set(server, sockets);
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    const source = normalizeIp(socket.remoteAddress ?? '');
    if (limit > 0 && !trusted.has(source)) {
      const open = (perSource.get(source) ?? 0) + 1;
      if (open > limit) {
        countSocket(count, socket, 'INVALID');
        socket.once('finish', () => socket.destroy());
        writeSocketError(socket, 'too_many_connections');
        return;
      }
      perSource.set(source, open);
      socket.once('close', () => {
        const left = (perSource.get(source) ?? 1) - 1;
        if (left > 0) perSource.set(source, left);
        else perSource.delete(source);
      });
    }
    // The first request head must be complete within the header timeout, however slowly its bytes trickle in
    // (slowloris): late ones are answered 408, connections that sent nothing are just closed.
    const timer = setTimeout(() => {
      if (firstHead.has(socket) || socket.destroyed) return;
      if (socket.bytesRead === 0) return void socket.destroy();
      countSocket(count, socket, 'INVALID');
      socket.once('finish', () => socket.destroy());
      writeSocketError(socket, 'header_timeout');
    }, headerTimeout);
    timer.unref();
    firstHeadTimers.set(socket, timer);
    socket.once('close', () => clearTimeout(timer));
    if (deps.splice === false) return fallback(socket);
    sniff(socket, maxHeaderSize, fallback, (s, first, bytes) => {
      headArrived(s);
      splice(deps, count, s, first, bytes, maxHeaderSize, fallback, idle);
    });
  });
  return server;
}

/** A request inside resigned TLS whose Host goes direct: the server makes no TLS of its own to targets. */
function insideResigned(url: URL, rule: string): string {
  return `host "${url.hostname}" goes direct (${rule}); it cannot be reached inside TLS resigned for another host`;
}

const firstHead = new WeakSet<object>();
const firstHeadTimers = new WeakMap<object, NodeJS.Timeout>();

/** The connection's first request head is complete: its header timer stops (Node times later ones). */
function headArrived(socket: object): void {
  if (firstHead.has(socket)) return;
  firstHead.add(socket);
  clearTimeout(firstHeadTimers.get(socket));
}

function splice(
  deps: ProxyEntryDeps,
  count: ReturnType<typeof counter>,
  socket: Socket,
  first: FirstRequest,
  bytes: Buffer,
  maxHeaderSize: number,
  fallback: (socket: Socket) => void,
  idle: (socket: Socket) => void,
): void {
  const authority = `${first.url.hostname}:${first.url.port || '80'}`;
  // A spliced connection counts once, with its first exchange; sc counts every request (sauce_connect_*).
  let counted = false;
  const countOnce = (status: number, code: string | undefined): void => {
    if (counted) return;
    counted = true;
    count(first.method, status, code);
  };
  socket.once('close', () => {
    const code = answeredErrors.get(socket);
    if (isProxyErrorCode(code)) countOnce(proxyErrors[code].status, code);
  });
  dispatch(
    deps,
    { headers: { 'proxy-authorization': first.auth, 'x-forwarded-for': first.forwardedFor }, socket },
    (d) => {
      writeSocketError(socket, d.error, d.detail, d.headers);
      countOnce(proxyErrors[d.error].status, d.error);
    },
    (conn, retry, own) => {
      if (!own || hasRules(deps, conn)) {
        // Someone else's shared tunnel: its owner's sc must not see this requester's credentials, so each
        // request goes on its own stream, with Proxy-Authorization removed, as before. The same for a tunnel
        // with domain rules: every request on the connection must be routed by them, here.
        counted = true;
        socket.unshift(bytes);
        fallback(socket);
        socket.resume();
        return;
      }
      idle(socket);
      forwardSplice(conn, authority, socket, bytes, maxHeaderSize, countOnce, retry);
    },
  );
}
