/**
 * Who may start, share, use and stop tunnels: the role table, as pure functions over accounts (with their teams)
 * and tunnel records. docs/roles.md shows the same table; test/unit/control-plane/permissions.test.ts checks every
 * cell of the `team` setting, test/unit/control-plane/member-sharing.test.ts what the default changes.
 *
 *   role             shares with                         uses tunnels of                 stops tunnels of
 *   org admin        any user                            any user                        any user
 *   team admin       own team                            org admins, team members, self  self + team members
 *   team member      nobody (default) | own team (team)  org admins, team members, self  self only
 *   service account  (no tunnels)                        org admins, team members        none
 *
 * The team member's cell is the server's `--team-member-sharing` setting: `none` (default) follows the Shared
 * Tunnels text ("Team members cannot share tunnels they create with any other team member"); `team` follows
 * SC5's newer table (team members share with their team).
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

/** What a team member's `--shared all` reaches: nobody else (the seed's rule, default) or their teams. */
export type MemberSharing = 'none' | 'team';
export const MEMBER_SHARING: readonly MemberSharing[] = ['none', 'team'];

/**
 * Whether a tunnel this account starts with `--shared all` reaches anyone but its owner. When it does not, the
 * tunnel is created unshared (and the create call says so in a warning).
 */
export function canShareTunnel(actor: Account, memberSharing: MemberSharing): boolean {
  if (!canStartTunnel(actor)) return false;
  return actor.role !== 'team_member' || memberSharing === 'team';
}

/** Does the owner's sharing reach this user? (The owner may share at all.) */
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

/**
 * May `actor` send traffic through `tunnel` (owned by `owner`)? A tunnel stored as shared by an owner who may not
 * share under the current setting (started before the setting changed) serves its owner only.
 */
export function canUseTunnel(
  actor: Account,
  tunnel: TunnelRecord,
  owner: Account,
  memberSharing: MemberSharing,
): boolean {
  if (actor.disabled || tunnel.ownerId !== owner.id) return false;
  if (actor.id === owner.id) return true;
  if (owner.disabled || actor.orgId !== owner.orgId || tunnel.shared !== 'all') return false;
  if (!canShareTunnel(owner, memberSharing)) return false;
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
  memberSharing: MemberSharing,
): TunnelRecord[] {
  return tunnels.filter((t) => {
    const owner = owners.get(t.ownerId);
    return owner !== undefined && canUseTunnel(actor, t, owner, memberSharing);
  });
}
