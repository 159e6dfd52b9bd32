/**
 * Console sessions without server-side state: the session is a cookie signed with a key derived from the
 * server secret, so any node holding the same secret (a cluster on one store) accepts it. It names the account,
 * binds to the access key used to sign in (revoking that key, or disabling the account, ends the session at the
 * next request), carries a random nonce and an expiry. The CSRF token is derived from the nonce: the page gets it
 * in the sign-in answer and sends it in `X-CSRF-Token` on every change (docs/console.md).
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Account, Store } from '../store/types.js';

export const SESSION_COOKIE = 'sluice_console';
export const CSRF_HEADER = 'x-csrf-token';
/** How long a session lasts from sign-in (8 hours); there is no sliding renewal. */
export const SESSION_TTL_S = 8 * 3600;

interface Payload {
  /** account id */
  a: string;
  /** binding to the access key's stored hash */
  k: string;
  /** nonce (the CSRF token derives from it) */
  n: string;
  /** expiry, unix seconds */
  e: number;
}

/** Why a request's session was refused: missing, bad or expired cookie, or a revoked key / disabled account. */
export type SessionProblem = 'none' | 'invalid' | 'expired' | 'revoked';

export class ConsoleSessions {
  private readonly key: Buffer;

  constructor(
    secret: Buffer,
    private readonly store: Store,
    private readonly now: () => number = () => Math.floor(Date.now() / 1000),
    readonly ttlS = SESSION_TTL_S,
  ) {
    this.key = createHmac('sha256', secret).update('sluice console session v1').digest();
  }

  private mac(data: string): string {
    return createHmac('sha256', this.key).update(data).digest('base64url');
  }

  private keyBinding(keyHash: string): string {
    return this.mac(`key\u0000${keyHash}`).slice(0, 22);
  }

  csrfFor(nonce: string): string {
    return this.mac(`csrf\u0000${nonce}`);
  }

  /** A new session for an account that has just signed in with the key whose stored hash is `keyHash`. */
  issue(account: Account, keyHash: string): { cookie: string; csrf: string; expires: number } {
    const payload: Payload = {
      a: account.id,
      k: this.keyBinding(keyHash),
      n: randomBytes(16).toString('base64url'),
      e: this.now() + this.ttlS,
    };
    const body = Buffer.from(JSON.stringify(payload)).toString('base64url');
    return { cookie: `${body}.${this.mac(body)}`, csrf: this.csrfFor(payload.n), expires: payload.e };
  }

  /** Set-Cookie value for a session, or one that clears it. */
  setCookie(value: string | null): string {
    const flags = 'Path=/; HttpOnly; Secure; SameSite=Strict';
    return value === null
      ? `${SESSION_COOKIE}=; ${flags}; Max-Age=0`
      : `${SESSION_COOKIE}=${value}; ${flags}; Max-Age=${this.ttlS}`;
  }

  /** The session of a request: its account and CSRF token, or why there is none. */
  async read(
    req: IncomingMessage,
  ): Promise<{ account: Account; csrf: string; expires: number } | { problem: SessionProblem }> {
    const raw = cookieValue(req.headers.cookie, SESSION_COOKIE);
    if (!raw) return { problem: 'none' };
    const dot = raw.indexOf('.');
    if (dot < 0) return { problem: 'invalid' };
    const body = raw.slice(0, dot);
    const sig = Buffer.from(raw.slice(dot + 1));
    const want = Buffer.from(this.mac(body));
    if (sig.length !== want.length || !timingSafeEqual(sig, want)) return { problem: 'invalid' };
    let p: Payload;
    try {
      p = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as Payload;
    } catch {
      return { problem: 'invalid' };
    }
    if (
      typeof p.e !== 'number' ||
      typeof p.a !== 'string' ||
      typeof p.k !== 'string' ||
      typeof p.n !== 'string'
    )
      return { problem: 'invalid' };
    if (p.e <= this.now()) return { problem: 'expired' };
    const account = await this.store.getAccountById(p.a);
    if (!account || account.disabled) return { problem: 'revoked' };
    const keys = await this.store.activeKeyHashes(account.id);
    if (!keys.some((k) => equal(this.keyBinding(k.hash), p.k))) return { problem: 'revoked' };
    return { account, csrf: this.csrfFor(p.n), expires: p.e };
  }

  /** True when the request carries the session's CSRF token. */
  csrfOk(req: IncomingMessage, csrf: string): boolean {
    const got = req.headers[CSRF_HEADER];
    return typeof got === 'string' && equal(got, csrf);
  }
}

function equal(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** One cookie's value from a Cookie header (the first of that name). */
export function cookieValue(header: string | undefined, name: string): string | null {
  for (const part of (header ?? '').split(';')) {
    const i = part.indexOf('=');
    if (i > 0 && part.slice(0, i).trim() === name) return part.slice(i + 1).trim();
  }
  return null;
}

/**
 * The request comes from this site: its Origin (when sent) is this host, and the browser's Sec-Fetch-Site (when
 * sent) is not cross-site. Browsers send Origin on every POST/PUT/PATCH/DELETE from a page.
 */
export function sameOrigin(req: IncomingMessage): boolean {
  const origin = req.headers.origin;
  if (origin !== undefined && origin !== `https://${req.headers.host ?? ''}`) return false;
  const site = req.headers['sec-fetch-site'];
  return site === undefined || site === 'same-origin' || site === 'none';
}
