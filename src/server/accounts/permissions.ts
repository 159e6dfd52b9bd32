/**
 * Who may start, share, use and stop tunnels: SC5's role table, as pure functions over accounts (with their
 * teams) and tunnel records. docs/roles.md shows the same table; test/control-plane/permissions.test.ts checks
 * every cell.
 *
 *   role             shares with   uses tunnels of                 stops tunnels of
 *   org admin        any user      any user                        any user
 *   team admin       own team      org admins, team members, self  self + team members
 *   team member      own team      org admins, team members, self  self only
 *   service account  (no tunnels)  org admins, team members        none
 *
 * "Any user" and "team" never cross an org boundary. Using someone else's tunnel needs both sides to agree: the
 * tunnel is shared (`--shared all`) and reaches the user (owner's "shares with"), and the user may use that
 * owner's tunnels (user's "uses tunnels of"). Org admins see every tunnel of their org, so a shared tunnel also
 * reaches them. A disabled account may do nothing; a disabled owner's tunnels are usable by no one else.
 */
import type { Account, TunnelRecord } from '../store/types.js';

/** Accounts that are in at least one common team. */
export function shareTeam(a: Account, b: Account): boolean {
  return a.teamIds.some((t) => b.teamIds.includes(t));
}

export function canStartTunnel(actor: Account): boolean {
  return !actor.disabled && actor.role !== 'service_account';
}

/** Whether the account may start a tunnel with `--shared all`. */
export function canShareTunnel(actor: Account): boolean {
  return canStartTunnel(actor);
}

/** Does the owner's sharing reach this user? */
function sharedWith(owner: Account, actor: Account): boolean {
  if (actor.role === 'org_admin') return true;
  switch (owner.role) {
    case 'org_admin':
      return true;
    case 'team_admin':
    case 'team_member':
      return shareTeam(owner, actor);
    case 'service_account':
      return false;
  }
}

/** May this user use tunnels of that owner (the "uses tunnels of" column)? */
function usesTunnelsOf(actor: Account, owner: Account): boolean {
  switch (actor.role) {
    case 'org_admin':
      return true;
    case 'team_admin':
    case 'team_member':
    case 'service_account':
      return owner.role === 'org_admin' || shareTeam(actor, owner);
  }
}

/** May `actor` send traffic through `tunnel` (owned by `owner`)? */
export function canUseTunnel(actor: Account, tunnel: TunnelRecord, owner: Account): boolean {
  if (actor.disabled || tunnel.ownerId !== owner.id) return false;
  if (actor.id === owner.id) return true;
  if (owner.disabled || actor.orgId !== owner.orgId || tunnel.shared !== 'all') return false;
  return sharedWith(owner, actor) && usesTunnelsOf(actor, owner);
}

/** May `actor` stop `tunnel` (owned by `owner`)? Sharing does not matter here, only roles. */
export function canStopTunnel(actor: Account, tunnel: TunnelRecord, owner: Account): boolean {
  if (actor.disabled || tunnel.ownerId !== owner.id) return false;
  if (actor.role === 'service_account') return false;
  if (actor.id === owner.id) return true;
  if (actor.orgId !== owner.orgId) return false;
  switch (actor.role) {
    case 'org_admin':
      return true;
    case 'team_admin':
      // "Team members": accounts in a team the admin belongs to, not the org's admins above them.
      return owner.role !== 'org_admin' && shareTeam(actor, owner);
    case 'team_member':
      return false;
  }
}

/**
 * The tunnels an account sees in listings: its own and those it may use. `owners` maps owner ids to accounts;
 * a tunnel whose owner is missing from it is not visible.
 */
export function tunnelsVisibleTo(
  actor: Account,
  tunnels: readonly TunnelRecord[],
  owners: ReadonlyMap<string, Account>,
): TunnelRecord[] {
  return tunnels.filter((t) => {
    const owner = owners.get(t.ownerId);
    return owner !== undefined && canUseTunnel(actor, t, owner);
  });
}
