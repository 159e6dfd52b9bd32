/**
 * The web console (docs/console.md): static files under /console/ and a few read endpoints under
 * /console/api/ that the tunnels REST API has no shape for (per-tunnel traffic, every tunnel the caller may see
 * or stop). Everything else the page does goes through the existing REST API (/rest/v1, /rest/v1/admin) with the
 * session cookie instead of Basic auth, so the role rules are applied in one place.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from '../../observability/log.js';
import { canStopTunnel, canUseTunnel, type MemberSharing } from '../accounts/permissions.js';
import type { Registry } from '../registry/registry.js';
import type { TunnelStats } from '../registry/tunnel-stats.js';
import { RestError, type Router, type SessionAuthenticator } from '../rest/router.js';
import { tunnelJson } from '../rest/tunnel-json.js';
import type { Account, Store, TunnelRecord } from '../store/types.js';
import { ConsoleSessions, sameOrigin, SESSION_COOKIE } from './session.js';

export const CONSOLE_PATH = '/console/';

/**
 * Content-Security-Policy of every console response: scripts, styles and data from this origin only, no inline
 * script or style, no framing, no plugins, forms post nowhere else.
 */
export const CONSOLE_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
  "font-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

const SECURITY_HEADERS: Record<string, string> = {
  'content-security-policy': CONSOLE_CSP,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
  'strict-transport-security': 'max-age=31536000',
};

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.json': 'application/json',
  '.txt': 'text/plain; charset=utf-8',
};

/** Where the build puts the console's files (scripts/build-console.ts): beside this module. */
export const STATIC_DIR = fileURLToPath(new URL('./static/', import.meta.url));

interface StaticFile {
  body: Buffer;
  type: string;
}

/** Reads every file of the static directory once, at start: nothing outside that list is ever served. */
function loadStatic(dir: string): Map<string, StaticFile> {
  const files = new Map<string, StaticFile>();
  const walk = (d: string): void => {
    let names: string[];
    try {
      names = readdirSync(d);
    } catch {
      return;
    }
    for (const name of names) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else {
        const type = TYPES[extname(name)];
        if (type) files.set(relative(dir, p).split(sep).join('/'), { body: readFileSync(p), type });
      }
    }
  };
  walk(dir);
  return files;
}

/** Serves /console/ (the page and its assets, read into memory at start); false for other paths. */
export function createConsoleStatic(dir = STATIC_DIR): {
  available: boolean;
  handle(req: IncomingMessage, res: ServerResponse): boolean;
} {
  const files = loadStatic(dir);
  return {
    available: files.has('index.html'),
    handle(req, res) {
      const path = (req.url ?? '/').split('?')[0]!;
      if (path === '/console') {
        res.writeHead(308, { location: CONSOLE_PATH, ...SECURITY_HEADERS });
        res.end();
        return true;
      }
      if (!path.startsWith(CONSOLE_PATH) || path.startsWith('/console/api/')) return false;
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain', ...SECURITY_HEADERS });
        res.end('method not allowed\n');
        return true;
      }
      const name = path.slice(CONSOLE_PATH.length) || 'index.html';
      const file = files.get(name);
      if (!file) {
        res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8', ...SECURITY_HEADERS });
        res.end(files.size === 0 ? 'the console files are missing from this build\n' : 'not found\n');
        return true;
      }
      res.writeHead(200, {
        'content-type': file.type,
        'content-length': file.body.length,
        // The page always revalidates; vendored modules change only with a new build.
        'cache-control': name === 'index.html' ? 'no-cache' : 'max-age=300',
        ...SECURITY_HEADERS,
      });
      res.end(req.method === 'HEAD' ? undefined : file.body);
      return true;
    },
  };
}

/**
 * The session cookie as an alternative to Basic auth on every authenticated REST route. Changes (any method
 * but GET/HEAD) must come from the console's own origin and carry the session's CSRF token, else 403
 * `csrf_failed`; a session that expired or whose key was revoked is 401 `session_expired` (no Basic challenge,
 * so the browser shows the console's sign-in rather than its own dialog).
 */
export function sessionAuthenticator(sessions: ConsoleSessions): SessionAuthenticator {
  return async (req) => {
    const s = await sessions.read(req);
    if ('problem' in s) {
      if (s.problem === 'none') return null;
      throw new RestError(
        401,
        'session_expired',
        s.problem === 'expired'
          ? 'the console session expired: sign in again'
          : 'the console session is no longer valid (signed out, key revoked or account disabled): sign in again',
        { 'set-cookie': sessions.setCookie(null) },
      );
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      if (!sameOrigin(req))
        throw new RestError(403, 'csrf_failed', 'cross-site request refused: use the console page itself');
      if (!sessions.csrfOk(req, s.csrf))
        throw new RestError(
          403,
          'csrf_failed',
          'missing or wrong X-CSRF-Token header: reload the console and try again',
        );
    }
    return s.account;
  };
}

export interface ConsoleDeps {
  store: Store;
  registry: Registry;
  stats: TunnelStats;
  sessions: ConsoleSessions;
  /** The one credential check of the server (with the failed-auth limiter). */
  authenticate: (u: string, k: string, ip: string) => Promise<Account | { retryAfter: number } | null>;
  /** The stored hash of an access key (the session binds to it). */
  hashKey: (key: string) => string;
  memberSharing: MemberSharing;
  publicHost: string;
  log: Logger;
}

/** A tunnel row of the console: the REST shape plus live counters and what the caller may do. */
export function consoleTunnel(
  t: TunnelRecord,
  deps: Pick<ConsoleDeps, 'registry' | 'stats' | 'publicHost'>,
  mayStop: boolean,
  now = Date.now(),
): Record<string, unknown> {
  const connections = deps.registry.usableConnections(t.id);
  const totals = deps.stats.totals(t.id);
  const meta = t.metadata;
  const str = (v: unknown): string => (typeof v === 'string' ? v : '');
  const since = t.lastConnected ?? t.creationTime;
  return {
    ...tunnelJson({ record: t, connections, host: deps.publicHost }),
    region: str(meta['region']),
    client_version: str(meta['release']),
    client_host: str(meta['hostname']),
    uptime: t.status === 'running' && connections > 0 ? Math.max(0, Math.floor(now / 1000) - since) : 0,
    requests: totals.requests,
    bytes_in: totals.bytesIn,
    bytes_out: totals.bytesOut,
    errors: totals.errors,
    may_stop: mayStop,
  };
}

export function registerConsoleRoutes(router: Router, deps: ConsoleDeps): void {
  const { store, sessions } = deps;

  router.add(
    'POST',
    '/console/api/login',
    async (ctx) => {
      if (!sameOrigin(ctx.req))
        throw new RestError(403, 'csrf_failed', 'cross-site sign-in refused: use the console page itself');
      if (!/^application\/json\b/i.test(ctx.req.headers['content-type'] ?? ''))
        throw new RestError(400, 'invalid_request', 'sign in with a JSON body {"username", "access_key"}');
      const b = (await ctx.body()) as Record<string, unknown>;
      const username = b['username'];
      const key = b['access_key'];
      if (typeof username !== 'string' || typeof key !== 'string' || !username || !key)
        throw new RestError(400, 'invalid_request', 'username and access_key are required strings');
      const got = await deps.authenticate(username, key, ctx.remoteIp);
      if (got && 'retryAfter' in got)
        throw new RestError(429, 'rate_limited', 'too many failed authentication attempts', {
          'retry-after': String(got.retryAfter),
        });
      if (!got) throw new RestError(401, 'unauthorized', 'wrong username or access key');
      const s = sessions.issue(got, deps.hashKey(key));
      deps.log.info('console sign-in', { username: got.username });
      return {
        body: { username: got.username, role: got.role, csrf: s.csrf, expires: s.expires },
        headers: { 'set-cookie': sessions.setCookie(s.cookie), 'cache-control': 'no-store' },
      };
    },
    { auth: 'none' },
  );

  router.add(
    'POST',
    '/console/api/logout',
    async (ctx) => {
      if (!sameOrigin(ctx.req)) throw new RestError(403, 'csrf_failed', 'cross-site request refused');
      return { body: { result: true }, headers: { 'set-cookie': sessions.setCookie(null) } };
    },
    { auth: 'none' },
  );

  router.add('GET', '/console/api/session', async (ctx) => {
    const s = await sessions.read(ctx.req);
    const me = ctx.account!;
    return {
      body: {
        username: me.username,
        role: me.role,
        csrf: 'csrf' in s ? s.csrf : '',
        expires: 'expires' in s ? s.expires : null,
        cookie: SESSION_COOKIE,
      },
      headers: { 'cache-control': 'no-store' },
    };
  });

  /** Every tunnel the caller may see: own, usable through sharing, or stoppable by role (the REST rules). */
  const visible = async (me: Account, tunnels: TunnelRecord[]): Promise<[TunnelRecord, boolean][]> => {
    const owners = new Map<string, Account | null>();
    const out: [TunnelRecord, boolean][] = [];
    for (const t of tunnels) {
      if (t.ownerId === me.id) {
        out.push([t, !me.disabled && me.role !== 'service_account']);
        continue;
      }
      if (!owners.has(t.ownerId)) owners.set(t.ownerId, await store.getAccountById(t.ownerId));
      const owner = owners.get(t.ownerId);
      if (!owner) continue;
      const mayStop = canStopTunnel(me, t, owner);
      if (mayStop || canUseTunnel(me, t, owner, deps.memberSharing)) out.push([t, mayStop]);
    }
    return out;
  };

  router.add('GET', '/console/api/tunnels', async (ctx) => {
    const status = ctx.query.get('status') ?? 'running';
    if (status !== 'running' && status !== 'terminated')
      throw new RestError(400, 'invalid_request', 'status must be running or terminated');
    const limit = Number(ctx.query.get('limit') ?? 10_000);
    if (!Number.isInteger(limit) || limit < 1 || limit > 10_000)
      throw new RestError(400, 'invalid_request', 'limit must be an integer from 1 to 10000');
    const rows = await visible(ctx.account!, await store.listTunnels({ status }));
    const now = Date.now();
    return {
      body: {
        tunnels: rows
          .slice(0, limit)
          .map(([t, mayStop]) => consoleTunnel(t, deps, mayStop && t.status === 'running', now)),
      },
    };
  });

  router.add('GET', '/console/api/tunnels/:id', async (ctx) => {
    const t = await store.getTunnel(ctx.params['id'] ?? '');
    const row = t ? (await visible(ctx.account!, [t]))[0] : undefined;
    if (!t || !row) throw new RestError(404, 'tunnel_not_found', `no tunnel ${ctx.params['id']}`);
    const sessionsOn =
      t.status === 'running'
        ? await store.listWebDriverSessions({ tunnelOwnerId: t.ownerId, tunnelName: t.name })
        : [];
    const users = new Map<string, string>();
    for (const s of sessionsOn)
      if (!users.has(s.accountId))
        users.set(s.accountId, (await store.getAccountById(s.accountId))?.username ?? s.accountId);
    const members = t.tunnelPool
      ? (await store.listTunnels({ ownerId: t.ownerId, name: t.name, status: 'running' })).map((m) => m.id)
      : [];
    return {
      body: {
        tunnel: consoleTunnel(t, deps, row[1] && t.status === 'running'),
        samples: deps.stats.samples(t.id),
        pool_members: members,
        sessions: sessionsOn.map((s) => ({
          id: s.id,
          user: users.get(s.accountId),
          status: s.status,
          created_at: s.createdAt,
          last_used_at: s.lastUsedAt,
        })),
      },
    };
  });
}
