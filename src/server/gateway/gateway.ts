/**
 * The WebDriver gateway: a W3C WebDriver endpoint on the REST listener (`/wd/hub`, `/wd/hub/session`, `/session`)
 * in front of real browser nodes (`--webdriver-upstream`: chromedriver, a Selenium Grid...).
 *
 *   client ── POST /session {sauce:options: {tunnelName}} ──> gateway ── POST /session {proxy: host:P} ──> upstream
 *   browser ── every request ──> session port P ──> proxy entry code ──> tunnel ──> sc ──> private app
 *
 * New session: credentials (Basic auth or sauce:options.username/accessKey) and the tunnel are checked by the
 * proxy entry's own rules, a proxy port is bound to the tunnel in the store, the upstream creates the session
 * with the proxy capability pointing at that port. Commands are relayed as they are; the WebDriver BiDi
 * WebSocket is relayed too, under the gateway's own URL. DELETE, an idle timeout, a failed or slow start all
 * end in one cleanup: the binding is removed (its port closes) and the upstream session deleted.
 *
 * Sessions live in the store, so any node behind one address can relay any session; a short local cache saves
 * a query per command. Decision: docs/decisions/0011-webdriver-gateway.md; user guide: docs/gateway.md.
 */
import { randomBytes, randomInt } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from '../../observability/log.js';
import type { MemberSharing } from '../accounts/permissions.js';
import type { Registry } from '../registry/registry.js';
import { type Account, type Store, StoreConflictError, type WebDriverSession } from '../store/types.js';
import { refuseUpgrade, relayWebSocket } from './bidi-relay.js';
import { parseNewSession, upstreamNewSession } from './capabilities.js';
import { authorizeSession } from './session-auth.js';
import type { SessionPorts } from './session-ports.js';
import { callUpstream, describeUpstream, replyJson, UpstreamError, type UpstreamReply } from './upstream.js';
import { sendW3cError, sendW3cJson, WebDriverError } from './w3c.js';

export interface GatewayDeps {
  store: Store;
  registry: Registry;
  log: Logger;
  authenticate: (
    username: string,
    key: string,
    remoteIp: string,
  ) => Promise<Account | { retryAfter: number } | null>;
  /** What a team member's `--shared all` reaches (the proxy entry's rule). */
  memberSharing: MemberSharing;
  upstreams: URL[];
  /** Null when no upstream is configured (then every new session is refused). */
  ports: SessionPorts | null;
  /** Host name the browser uses to reach the session ports. */
  proxyHost: string;
  /** SPKI hashes (base64 SHA-256) the browser accepts certificates of: the resigning key and any configured. */
  spkis: string[];
  newSessionTimeoutMs: number;
  commandTimeoutMs: number;
  idleTimeoutMs: number;
  /** host:port clients reach this listener on, when a request has no usable Host header. */
  fallbackHost: () => string;
}

export interface Gateway {
  /** Whether a request path belongs to the gateway. */
  owns(url: string | undefined): boolean;
  handle(req: IncomingMessage, res: ServerResponse): void;
  /** The BiDi WebSocket relay; false when the path is not the gateway's. */
  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): boolean;
  startReaper(): void;
  close(): Promise<void>;
}

const MAX_BODY = 64 * 1024 * 1024; // file uploads travel as base64 in a command body
const CACHE_MS = 2000;
const TOUCH_EVERY_MS = 1000;

/** `/wd/hub/session/...` and `/session/...`, as the path after the optional prefix; null when not ours. */
function gatewayPath(url: string | undefined): { path: string; query: string } | null {
  const u = url ?? '';
  const q = u.indexOf('?');
  const pathname = q < 0 ? u : u.slice(0, q);
  const query = q < 0 ? '' : u.slice(q);
  let path: string;
  if (pathname === '/wd/hub' || pathname === '/wd/hub/') path = '/';
  else if (pathname.startsWith('/wd/hub/')) path = pathname.slice('/wd/hub'.length);
  else if (pathname === '/session' || pathname.startsWith('/session/')) path = pathname;
  else return null;
  return { path: path.replace(/\/+$/, '') || '/', query };
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) {
        reject(new WebDriverError('invalid argument', 'request body over 64 MiB'));
        req.destroy();
      } else chunks.push(c);
    });
    req.on('error', () => reject(new WebDriverError('unknown error', 'the request broke off')));
    req.on('end', () => resolve(Buffer.concat(chunks)));
  });
}

export function createGateway(deps: GatewayDeps): Gateway {
  const { store, log } = deps;
  const cache = new Map<string, { s: WebDriverSession; at: number }>();
  const touched = new Map<string, number>();
  let next = 0;
  let reaper: NodeJS.Timeout | undefined;

  const pickUpstream = (): URL => deps.upstreams[next++ % deps.upstreams.length]!;

  const lookup = async (id: string): Promise<WebDriverSession | null> => {
    const hit = cache.get(id);
    if (hit && Date.now() - hit.at < CACHE_MS) return hit.s;
    const s = await store.getWebDriverSession(id);
    if (s) cache.set(id, { s, at: Date.now() });
    else cache.delete(id);
    return s;
  };

  const touch = (id: string): void => {
    const now = Date.now();
    if (now - (touched.get(id) ?? 0) < TOUCH_EVERY_MS) return;
    touched.set(id, now);
    store
      .touchWebDriverSession(id, now)
      .catch((err: unknown) => log.error('session touch failed', { error: err }));
  };

  /** Deletes an upstream session, best effort (the upstream may be gone). */
  const deleteUpstream = async (upstream: URL, upstreamId: string, why: string): Promise<void> => {
    try {
      await callUpstream(
        upstream,
        'DELETE',
        `/session/${encodeURIComponent(upstreamId)}`,
        null,
        deps.commandTimeoutMs,
      );
      log.info('upstream session deleted', {
        upstream: describeUpstream(upstream),
        session: upstreamId,
        why,
      });
    } catch (err) {
      log.error('could not delete upstream session', {
        upstream: describeUpstream(upstream),
        session: upstreamId,
        error: (err as Error).message,
      });
    }
  };

  /**
   * Ends a session once: removes the binding (only the caller that removed it goes on), closes its proxy port's
   * connections and deletes the upstream session unless `skipUpstream`. Returns whether this caller ended it.
   */
  const end = async (s: WebDriverSession, why: string, skipUpstream = false): Promise<boolean> => {
    cache.delete(s.id);
    touched.delete(s.id);
    if (!(await store.deleteWebDriverSession(s.id))) return false;
    if (s.proxyPort !== null) deps.ports?.closePort(s.proxyPort);
    log.info('webdriver session ended', { session: s.id, why, tunnel: s.tunnelName ?? '' });
    if (!skipUpstream && s.upstreamSessionId) {
      await deleteUpstream(new URL(s.upstreamUrl), s.upstreamSessionId, why);
    }
    return true;
  };

  /** Binds a free proxy port of the range to the session (another node may race us: the store decides). */
  const bind = async (s: WebDriverSession): Promise<WebDriverSession> => {
    const ports = deps.ports!.ports;
    for (let attempt = 0; attempt < 8; attempt++) {
      const bound = new Set(await store.boundProxyPorts());
      const free = ports.filter((p) => !bound.has(p));
      if (free.length === 0) {
        throw new WebDriverError(
          'session not created',
          `all ${ports.length} WebDriver proxy ports are in use (--webdriver-proxy-ports); try again later`,
        );
      }
      const withPort = { ...s, proxyPort: free[randomInt(free.length)]! };
      try {
        await store.insertWebDriverSession(withPort);
        return withPort;
      } catch (err) {
        if (!(err instanceof StoreConflictError)) throw err;
      }
    }
    throw new WebDriverError('session not created', 'could not bind a proxy port; try again');
  };

  const publicHost = (req: IncomingMessage): string => {
    const h = req.headers.host;
    return h && /^[A-Za-z0-9.:[\]-]{1,260}$/.test(h) ? h : deps.fallbackHost();
  };

  const newSession = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const raw = await readBody(req);
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw.toString('utf8'));
    } catch {
      throw new WebDriverError('invalid argument', 'the new session body is not valid JSON');
    }
    const request = parseNewSession(parsed);
    if (deps.upstreams.length === 0 || !deps.ports) {
      throw new WebDriverError(
        'session not created',
        'this server has no browsers: start it with --webdriver-upstream URL',
      );
    }
    const { account, target, user } = await authorizeSession(deps, req, request.sauce);
    const { tunnelOwner } = request.sauce;
    const upstream = pickUpstream();
    const now = Date.now();
    let session: WebDriverSession = {
      id: randomBytes(16).toString('hex'),
      accountId: account.id,
      tunnelOwnerId: target?.ownerId ?? null,
      tunnelName: target?.tunnelName ?? null,
      ownTunnel: target?.own ?? false,
      proxyPort: null,
      upstreamUrl: upstream.href,
      upstreamSessionId: null,
      upstreamWsUrl: null,
      status: 'starting',
      createdAt: now,
      lastUsedAt: now,
    };
    // Checked before binding (it throws on capabilities that conflict with the tunnel), so they bind nothing.
    upstreamNewSession(request, target ? { proxy: `${deps.proxyHost}:0`, spkis: deps.spkis } : null);
    if (target) session = await bind(session);
    else await store.insertWebDriverSession(session);
    const body = upstreamNewSession(
      request,
      target ? { proxy: `${deps.proxyHost}:${session.proxyPort}`, spkis: deps.spkis } : null,
    );
    const call = callUpstream(
      upstream,
      'POST',
      '/session',
      Buffer.from(JSON.stringify(body)),
      deps.newSessionTimeoutMs * 10,
    );
    let reply: UpstreamReply;
    try {
      reply = await Promise.race([
        call,
        new Promise<never>((_, reject) => {
          const t = setTimeout(
            () =>
              reject(
                new UpstreamError(
                  `upstream ${describeUpstream(upstream)} did not create the session within ${deps.newSessionTimeoutMs / 1000}s (--webdriver-new-session-timeout)`,
                  'timeout',
                ),
              ),
            deps.newSessionTimeoutMs,
          );
          void call.finally(() => clearTimeout(t)).catch(() => undefined);
        }),
      ]);
    } catch (err) {
      await end(session, 'upstream failed', true);
      if (err instanceof UpstreamError && err.kind === 'timeout') {
        // A slow upstream may still create the session: delete it when it does, so no browser is left behind.
        call.then(
          (late) => {
            const id = sessionIdOf(replyJson(late));
            if (late.status < 300 && id)
              void deleteUpstream(upstream, id, 'created after the gateway gave up');
          },
          () => undefined,
        );
      }
      throw new WebDriverError('session not created', (err as Error).message);
    }
    const json = replyJson(reply) as { value?: Record<string, unknown> } | null;
    const upstreamId = sessionIdOf(json);
    if (reply.status >= 300 || !upstreamId || !json?.value) {
      await end(session, 'upstream refused', true);
      const v = json?.value;
      if (reply.status >= 300 && v && typeof v['error'] === 'string') {
        // The upstream's own W3C error (e.g. a browser that would not start), relayed with its status.
        return sendW3cJson(res, reply.status, {
          value: {
            error: v['error'],
            message: `upstream: ${typeof v['message'] === 'string' ? v['message'] : ''}`,
            stacktrace: '',
          },
        });
      }
      throw new WebDriverError(
        'session not created',
        `upstream ${describeUpstream(upstream)} answered ${reply.status} without a session`,
      );
    }
    const caps = (json.value['capabilities'] ?? {}) as Record<string, unknown>;
    const wsUrl = typeof caps['webSocketUrl'] === 'string' ? caps['webSocketUrl'] : null;
    const active = await store.activateWebDriverSession(session.id, upstreamId, wsUrl);
    if (!active || res.destroyed) {
      // Ended meanwhile or the client went away: nobody will delete this browser but us.
      await store.deleteWebDriverSession(session.id);
      if (session.proxyPort !== null) deps.ports?.closePort(session.proxyPort);
      await deleteUpstream(upstream, upstreamId, 'ended before it started');
      throw new WebDriverError('session not created', 'the session was ended while the upstream started it');
    }
    await store.touchWebDriverSession(session.id, Date.now());
    session = { ...session, upstreamSessionId: upstreamId, upstreamWsUrl: wsUrl, status: 'active' };
    cache.set(session.id, { s: session, at: Date.now() });
    log.info('webdriver session started', {
      session: session.id,
      user,
      tunnel: session.tunnelName ?? '',
      owner: tunnelOwner ?? '',
      proxy_port: session.proxyPort ?? '',
      upstream: describeUpstream(upstream),
    });
    const out: Record<string, unknown> = { ...caps };
    if (wsUrl) out['webSocketUrl'] = `wss://${publicHost(req)}/wd/hub/session/${session.id}/se/bidi`;
    sendW3cJson(res, 200, { value: { ...json.value, sessionId: session.id, capabilities: out } });
  };

  const command = async (
    req: IncomingMessage,
    res: ServerResponse,
    id: string,
    rest: string,
    query: string,
  ): Promise<void> => {
    const s = await lookup(id);
    if (!s || s.status !== 'active' || !s.upstreamSessionId) {
      throw new WebDriverError('invalid session id', `no session ${id} (ended, idled out, or never started)`);
    }
    const upstream = new URL(s.upstreamUrl);
    const method = req.method ?? 'GET';
    if (method === 'DELETE' && rest === '') {
      // Answer only after the upstream session is gone, so a client that starts the next one finds a free browser.
      cache.delete(id);
      let reply: UpstreamReply | null = null;
      if (await store.deleteWebDriverSession(id)) {
        if (s.proxyPort !== null) deps.ports?.closePort(s.proxyPort);
        try {
          reply = await callUpstream(
            upstream,
            'DELETE',
            `/session/${encodeURIComponent(s.upstreamSessionId)}`,
            null,
            deps.commandTimeoutMs,
          );
        } catch (err) {
          log.error('could not delete upstream session', { session: id, error: (err as Error).message });
        }
        log.info('webdriver session ended', {
          session: id,
          why: 'deleted by the client',
          tunnel: s.tunnelName ?? '',
        });
      }
      return sendW3cJson(
        res,
        200,
        reply && reply.status < 300 ? (replyJson(reply) ?? { value: null }) : { value: null },
      );
    }
    touch(id);
    const body = method === 'POST' ? await readBody(req) : null;
    let reply: UpstreamReply;
    try {
      reply = await callUpstream(
        upstream,
        method,
        `/session/${encodeURIComponent(s.upstreamSessionId)}${rest}${query}`,
        body,
        deps.commandTimeoutMs,
      );
    } catch (err) {
      const kind = err instanceof UpstreamError ? err.kind : 'unreachable';
      throw new WebDriverError(kind === 'timeout' ? 'timeout' : 'unknown error', (err as Error).message);
    }
    if (res.headersSent || res.destroyed) return;
    res.writeHead(reply.status, {
      'content-type': reply.contentType,
      'content-length': reply.body.length,
      'cache-control': 'no-cache',
    });
    res.end(reply.body);
  };

  const route = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const p = gatewayPath(req.url)!;
    const method = req.method ?? 'GET';
    if (p.path === '/status' || p.path === '/') {
      if (method !== 'GET')
        throw new WebDriverError('unknown method', `${method} ${p.path} is not a WebDriver command`);
      return sendW3cJson(res, 200, {
        value: {
          ready: deps.upstreams.length > 0,
          message: deps.upstreams.length ? 'Sluice WebDriver gateway' : 'no --webdriver-upstream configured',
        },
      });
    }
    if (p.path === '/session') {
      if (method !== 'POST')
        throw new WebDriverError('unknown method', `${method} /session: only POST creates a session`);
      return newSession(req, res);
    }
    const m = /^\/session\/([^/]+)(\/.*)?$/.exec(p.path);
    if (!m) throw new WebDriverError('unknown command', `no such WebDriver endpoint: ${p.path}`);
    let id: string;
    try {
      id = decodeURIComponent(m[1]!);
    } catch {
      throw new WebDriverError('invalid session id', 'malformed session id');
    }
    return command(req, res, id, m[2] ?? '', p.query);
  };

  const relayBiDi = (req: IncomingMessage, socket: Duplex, head: Buffer, id: string): void => {
    lookup(id).then(
      (s) => {
        if (!s?.upstreamWsUrl) return refuseUpgrade(socket, 404, 'Not Found');
        relayWebSocket(req, socket, head, new URL(s.upstreamWsUrl), deps.newSessionTimeoutMs, () =>
          touch(id),
        );
      },
      () => refuseUpgrade(socket, 500, 'Internal Server Error'),
    );
  };

  return {
    owns: (url) => gatewayPath(url) !== null,
    handle(req, res) {
      route(req, res).catch((err: unknown) => {
        if (err instanceof WebDriverError) {
          log.info('webdriver request refused', {
            method: req.method,
            path: gatewayPath(req.url)?.path,
            error: err.message,
          });
          return sendW3cError(res, err.error, err.message);
        }
        log.error('webdriver gateway failed', { error: err, path: gatewayPath(req.url)?.path });
        sendW3cError(res, 'unknown error', 'internal error in the WebDriver gateway');
      });
    },
    upgrade(req, socket, head) {
      const p = gatewayPath(req.url);
      const m = p && /^\/session\/([0-9a-f]{32})\/se\/bidi$/.exec(p.path);
      if (!m) return false;
      socket.on('error', () => undefined);
      relayBiDi(req, socket, head, m[1]!);
      return true;
    },
    startReaper() {
      const every = Math.max(200, Math.min(5000, deps.idleTimeoutMs / 4));
      reaper = setInterval(() => {
        store
          .listWebDriverSessions({ idleBefore: Date.now() - deps.idleTimeoutMs })
          .then(async (idle) => {
            // Sessions another node ended leave entries here; none is needed past the cache's life.
            const stale = Date.now() - Math.max(deps.idleTimeoutMs, CACHE_MS);
            for (const [id, at] of touched) if (at < stale) touched.delete(id);
            for (const [id, hit] of cache) if (hit.at < stale) cache.delete(id);
            for (const s of idle) {
              // A session still starting has until the new-session timeout (twice, for a node that died meanwhile).
              if (s.status === 'starting' && Date.now() - s.createdAt < 2 * deps.newSessionTimeoutMs)
                continue;
              await end(s, s.status === 'starting' ? 'never started' : 'idle timeout');
            }
          })
          .catch((err: unknown) => log.error('webdriver reaper failed', { error: err }));
      }, every);
      reaper.unref();
    },
    async close() {
      clearInterval(reaper);
      await deps.ports?.close();
    },
  };
}

function sessionIdOf(json: unknown): string | null {
  const v = (json as { value?: { sessionId?: unknown } } | null)?.value;
  return typeof v?.sessionId === 'string' && v.sessionId ? v.sessionId : null;
}
