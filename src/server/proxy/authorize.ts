/**
 * Who may send traffic into which tunnel through the proxy entry. Credentials first, then the tunnel: the
 * caller's own, or another account's shared tunnel when the role rules allow it (tunnelOwner).
 */
import type { ProxyErrorCode } from '../../protocol/errors.js';
import { canShareTunnel, canUseTunnel, type MemberSharing } from '../accounts/permissions.js';
import type { Registry } from '../registry/registry.js';
import type { Account, Store, TunnelRecord } from '../store/types.js';
import type { ProxyCredentials } from './proxy-credentials.js';
import type { RouteTarget } from './proxy-entry.js';

export interface AuthorizeDeps {
  /** Checks a key, rate-limited per source and account (same gate as the REST API). */
  authenticate: (
    username: string,
    key: string,
    remoteIp: string,
  ) => Promise<Account | { retryAfter: number } | null>;
  store: Store;
  registry: Registry;
  /** What a team member's `--shared all` reaches (sc-server --team-member-sharing). */
  memberSharing: MemberSharing;
  /**
   * In a cluster: a running tunnel with no live connection anywhere is routed anyway, and the request waits in
   * the registry (--queue-timeout) for its client to connect again (to another node, during a rolling restart).
   */
  waitForReconnect?: boolean;
}

export async function authorizeProxyUse(
  deps: AuthorizeDeps,
  creds: ProxyCredentials,
  remoteIp: string,
): Promise<RouteTarget | { error: ProxyErrorCode; retryAfter?: number }> {
  const actor = await deps.authenticate(creds.username, creds.accessKey, remoteIp);
  if (!actor) return { error: 'proxy_auth_required' };
  if ('retryAfter' in actor) return { error: 'auth_rate_limited', retryAfter: actor.retryAfter };
  const name = creds.tunnelName!;
  let owner = actor;
  if (creds.tunnelOwner && creds.tunnelOwner !== actor.username) {
    const other = await deps.store.getAccountByUsername(creds.tunnelOwner);
    if (!other) return { error: 'tunnel_not_found' };
    owner = other;
  }
  const mayUse = (t: TunnelRecord): boolean => canUseTunnel(actor, t, owner, deps.memberSharing);
  const members = deps.registry.members(owner.id, name);
  if (members.length === 0) {
    // Not live: a running tunnel whose client is reconnecting is "unavailable" (503), anything else not found.
    const running = await deps.store.listTunnels({ ownerId: owner.id, status: 'running', name });
    const known = running.some((t) => t.name === name && (owner === actor || mayUse(t)));
    if (known && deps.waitForReconnect) return { ownerId: owner.id, tunnelName: name, own: owner === actor };
    return { error: known ? 'tunnel_unavailable' : 'tunnel_not_found' };
  }
  if (owner !== actor && !members.some((m) => mayUse(m.record))) {
    // Say "forbidden" only about tunnels the owner shared (and may share) within the caller's org; an unshared
    // tunnel, or any tunnel of another org, stays invisible (docs/roles.md: nothing crosses an org boundary).
    const shared =
      owner.orgId === actor.orgId &&
      canShareTunnel(owner, deps.memberSharing) &&
      members.some((m) => m.record.shared === 'all');
    return { error: shared ? 'tunnel_forbidden' : 'tunnel_not_found' };
  }
  return { ownerId: owner.id, tunnelName: name, own: owner === actor };
}
