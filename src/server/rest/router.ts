/**
 * A small REST router: exact segments and `:param` captures, Basic auth resolved once per request (or the web
 * console's session cookie instead, src/server/console/), JSON in and out, and one error shape
 * `{"error": message, "code": stable_code}` for everything that goes wrong.
 */
import { clientAddress } from '../proxy/client-address.js';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { StoreUnavailableError, type Account } from '../store/types.js';

export class RestError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

export interface RestContext {
  req: IncomingMessage;
  params: Record<string, string>;
  query: URLSearchParams;
  account: Account | null;
  remoteIp: string;
  body(): Promise<unknown>;
}

export type Handler = (
  ctx: RestContext,
) => Promise<{ status?: number; body: unknown; headers?: Record<string, string> }>;

export interface Router {
  add(method: string, pattern: string, handler: Handler, opts?: { auth?: 'required' | 'none' }): void;
}

export type Authenticator = (
  username: string,
  key: string,
  remoteIp: string,
) => Promise<Account | { retryAfter: number } | null>;

/**
 * The console's session as an alternative to Basic auth (src/server/console/session.ts): the account, `null`
 * when the request carries no session, or a RestError (expired session, failed CSRF check) to answer instead.
 */
export type SessionAuthenticator = (req: IncomingMessage) => Promise<Account | null>;

interface Route {
  method: string;
  parts: string[];
  handler: Handler;
  auth: 'required' | 'none';
}

const MAX_BODY = 1024 * 1024;

function readJson(req: IncomingMessage): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const tooLarge = (): RestError => new RestError(413, 'body_too_large', 'request body over 1 MiB');
    // Refused at once when the length says so; otherwise the rest is read and dropped (up to a bound) rather
    // than the socket destroyed, which would reset the connection before the client could read the 413.
    if (Number(req.headers['content-length']) > MAX_BODY) reject(tooLarge());
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) {
        reject(tooLarge());
        chunks.length = 0;
        if (size > 16 * MAX_BODY) req.destroy();
      } else chunks.push(c);
    });
    req.on('error', reject);
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8').trim();
      if (!text) return resolve({});
      try {
        resolve(JSON.parse(text));
      } catch {
        reject(new RestError(400, 'bad_json', 'request body is not valid JSON'));
      }
    });
  });
}

function basicCredentials(header: string | undefined): { user: string; key: string } | null {
  const m = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header ?? '');
  if (!m) return null;
  const plain = Buffer.from(m[1]!, 'base64').toString('utf8');
  const i = plain.indexOf(':');
  return i < 0 ? null : { user: plain.slice(0, i), key: plain.slice(i + 1) };
}

export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

export function createRouter(
  authenticate: Authenticator,
  trustedProxies: ReadonlySet<string> = new Set(),
  session?: SessionAuthenticator,
): Router & {
  handle(req: IncomingMessage, res: ServerResponse): Promise<void>;
} {
  const routes: Route[] = [];
  const match = (route: Route, segs: string[]): Record<string, string> | null => {
    if (route.parts.length !== segs.length) return null;
    const params: Record<string, string> = {};
    for (let i = 0; i < segs.length; i++) {
      const p = route.parts[i]!;
      if (p.startsWith(':')) params[p.slice(1)] = segs[i]!;
      else if (p !== segs[i]) return null;
    }
    return params;
  };
  return {
    add(method, pattern, handler, opts) {
      routes.push({
        method,
        parts: pattern.split('/').filter(Boolean),
        handler,
        auth: opts?.auth ?? 'required',
      });
    },
    async handle(req, res) {
      try {
        const url = new URL(req.url ?? '/', 'http://rest');
        let segs: string[];
        try {
          segs = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
        } catch {
          throw new RestError(400, 'bad_path', 'malformed path');
        }
        let allowed = false;
        for (const route of routes) {
          const params = match(route, segs);
          if (!params) continue;
          allowed = true;
          if (route.method !== req.method) continue;
          const remoteIp = clientAddress(
            req.socket.remoteAddress,
            req.headers['x-forwarded-for'],
            trustedProxies,
          );
          let account: Account | null = null;
          if (route.auth === 'required') {
            const creds = basicCredentials(req.headers.authorization);
            if (!creds && req.headers.authorization === undefined && session) {
              const viaSession = await session(req);
              if (viaSession) account = viaSession;
            }
            const got = account ?? (creds ? await authenticate(creds.user, creds.key, remoteIp) : null);
            if (got && 'retryAfter' in got) {
              throw new RestError(429, 'rate_limited', 'too many failed authentication attempts', {
                'retry-after': String(got.retryAfter),
              });
            }
            if (!got) {
              // No Basic challenge for a page's fetch (the console): the browser would show its own dialog.
              const fetched = (req.headers['sec-fetch-mode'] ?? 'navigate') !== 'navigate';
              throw new RestError(
                401,
                'unauthorized',
                'Not authorized: wrong username or access key',
                fetched ? {} : { 'www-authenticate': 'Basic realm="sluice"' },
              );
            }
            account = got;
          }
          const out = await route.handler({
            req,
            params,
            query: url.searchParams,
            account,
            remoteIp,
            body: () => readJson(req),
          });
          return sendJson(res, out.status ?? 200, out.body, out.headers);
        }
        if (allowed) throw new RestError(405, 'method_not_allowed', `${req.method} is not allowed here`);
        throw new RestError(404, 'not_found', `no such endpoint: ${url.pathname}`);
      } catch (err) {
        if (err instanceof RestError)
          return sendJson(res, err.status, { error: err.message, code: err.code }, err.headers);
        if (err instanceof StoreUnavailableError) {
          // The detail (which database, why) goes to the log only; the caller learns to retry.
          sendJson(
            res,
            503,
            { error: 'the store is unavailable; retry later', code: 'store_unavailable' },
            { 'retry-after': '5', 'x-sluice-error': 'store_unavailable' },
          );
          throw err;
        }
        sendJson(res, 500, { error: 'internal error', code: 'internal' });
        throw err;
      }
    },
  };
}
