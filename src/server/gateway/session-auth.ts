/**
 * Who is asking for a session and through which tunnel: credentials from Basic auth (the URL's user:key) or
 * sauce:options, then the proxy entry's own rules for the tunnel (src/server/proxy/authorize.ts), so the gateway
 * and the proxy entry never disagree about who may use what. Refusals become `session not created` messages.
 */
import type { IncomingMessage } from 'node:http';
import { authorizeProxyUse, type AuthorizeDeps } from '../proxy/authorize.js';
import type { Account } from '../store/types.js';
import type { SauceOptions } from './capabilities.js';
import { WebDriverError } from './w3c.js';

/** The proxy entry's authorisation inputs: a session is allowed exactly what a proxy request would be. */
export type SessionAuthDeps = AuthorizeDeps;

export interface SessionGrant {
  account: Account;
  user: string;
  /** The tunnel to route through; null when the session asked for none. */
  target: { ownerId: string; tunnelName: string; own: boolean } | null;
}

function basicCredentials(header: string | undefined): { user: string; key: string } | null {
  const m = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header ?? '');
  if (!m) return null;
  const plain = Buffer.from(m[1]!, 'base64').toString('utf8');
  const i = plain.indexOf(':');
  if (i < 0) return null;
  const decode = (v: string): string => {
    try {
      return decodeURIComponent(v);
    } catch {
      return v;
    }
  };
  return { user: decode(plain.slice(0, i)), key: decode(plain.slice(i + 1)) };
}

/** Why a tunnel may not be used, as the session-not-created message. */
function refusal(code: string, name: string, owner: string, user: string, retryAfter?: number): string {
  switch (code) {
    case 'proxy_auth_required':
      return `authentication failed for user ${user}: wrong username or access key`;
    case 'auth_rate_limited':
      return `too many failed authentication attempts; retry after ${retryAfter ?? 60}s`;
    case 'tunnel_unavailable':
      return `tunnel ${name} of user ${owner} is reconnecting; try again shortly`;
    case 'tunnel_forbidden':
      return `user ${user} may not use tunnel ${name} of user ${owner} (see its sharing and your role)`;
    default:
      return `no running tunnel named ${name} for user ${owner}`;
  }
}

export async function authorizeSession(
  deps: SessionAuthDeps,
  req: IncomingMessage,
  sauce: SauceOptions,
): Promise<SessionGrant> {
  const fromHeader = basicCredentials(req.headers.authorization);
  const user = fromHeader?.user ?? sauce.username;
  const key = fromHeader?.key ?? sauce.accessKey;
  if (!user || !key) {
    throw new WebDriverError(
      'session not created',
      'no credentials: put them in the URL (https://USER:ACCESS_KEY@host/wd/hub) or in sauce:options.username and sauce:options.accessKey',
    );
  }
  const ip = req.socket.remoteAddress ?? '';
  const { tunnelName, tunnelOwner } = sauce;
  if (!tunnelName) {
    const got = await deps.authenticate(user, key, ip);
    if (!got) throw new WebDriverError('session not created', refusal('proxy_auth_required', '', '', user));
    if ('retryAfter' in got) {
      throw new WebDriverError(
        'session not created',
        refusal('auth_rate_limited', '', '', user, got.retryAfter),
      );
    }
    return { account: got, user, target: null };
  }
  const got = await authorizeProxyUse(deps, { username: user, accessKey: key, tunnelName, tunnelOwner }, ip);
  if ('error' in got) {
    throw new WebDriverError(
      'session not created',
      refusal(got.error, tunnelName, tunnelOwner ?? user, user, got.retryAfter),
    );
  }
  const account = await deps.store.getAccountByUsername(user);
  if (!account) throw new WebDriverError('session not created', refusal('proxy_auth_required', '', '', user));
  return { account, user, target: got };
}
