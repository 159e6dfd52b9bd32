/**
 * Who may administer whom (users, keys, teams, orgs). Pure functions; the operator running `sc-server admin` on
 * the server's data directory is "local" and may do everything.
 *
 * - Org admins administer their org. Org admins of the default org (the one the first admin is created in) run
 *   the server: they also create orgs and administer every org.
 * - Team admins administer the team members and service accounts of their teams: create them (into their teams
 *   only), disable them, manage their keys and their membership of the admin's teams. Roles are for org admins.
 * - Everyone manages their own access keys.
 */
import { DEFAULT_ORG_ID } from '../store/migrations.js';
import type { Account, Role, Team } from '../store/types.js';
import { shareTeam } from './permissions.js';

export type Actor = Account | 'local';

export function isServerAdmin(actor: Actor): boolean {
  return (
    actor === 'local' || (!actor.disabled && actor.role === 'org_admin' && actor.orgId === DEFAULT_ORG_ID)
  );
}

/** May the actor act on anything of this org at org-admin level? */
export function administersOrg(actor: Actor, orgId: string): boolean {
  if (isServerAdmin(actor)) return true;
  const a = actor as Account;
  return !a.disabled && a.role === 'org_admin' && a.orgId === orgId;
}

/** May the actor see, disable and manage the keys of `target`? */
export function administersUser(actor: Actor, target: Account): boolean {
  if (administersOrg(actor, target.orgId)) return true;
  const a = actor as Account;
  return (
    !a.disabled &&
    a.role === 'team_admin' &&
    a.orgId === target.orgId &&
    (target.role === 'team_member' || target.role === 'service_account') &&
    shareTeam(a, target)
  );
}

/** May the actor manage the access keys of `target`? Their own, or those of accounts they administer. */
export function managesKeysOf(actor: Actor, target: Account): boolean {
  if (actor !== 'local' && actor.id === target.id) return !actor.disabled;
  return administersUser(actor, target);
}

/** Why the actor may not create this account, or null when it may. */
export function createUserRefusal(
  actor: Actor,
  u: { role: Role; orgId: string; teams: Team[] },
): string | null {
  if (administersOrg(actor, u.orgId)) return null;
  const a = actor as Account;
  if (a.disabled || a.role !== 'team_admin') return 'only org admins and team admins may create users';
  if (u.orgId !== a.orgId) return 'team admins create users in their own org only';
  if (u.role !== 'team_member' && u.role !== 'service_account') {
    return 'team admins may create team members and service accounts only';
  }
  if (u.teams.length === 0) return 'team admins must put new users in one of their teams';
  if (!u.teams.every((t) => a.teamIds.includes(t.id)))
    return 'team admins may add users to their own teams only';
  return null;
}

/** May the actor add `target` to, or remove it from, `team`? */
export function managesMembership(actor: Actor, team: Team, target: Account): boolean {
  if (team.orgId !== target.orgId) return false;
  if (administersOrg(actor, team.orgId)) return true;
  const a = actor as Account;
  return (
    !a.disabled &&
    a.role === 'team_admin' &&
    a.teamIds.includes(team.id) &&
    a.orgId === target.orgId &&
    (target.role === 'team_member' || target.role === 'service_account')
  );
}

/** Teams the actor may see: all of an org it administers, else its own. */
export function seesTeam(actor: Actor, team: Team): boolean {
  return administersOrg(actor, team.orgId) || (actor !== 'local' && actor.teamIds.includes(team.id));
}
