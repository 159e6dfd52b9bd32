/**
 * Administration of users, keys, orgs and teams, shared by the admin REST routes and the `sc-server admin` CLI
 * so both validate and authorise the same way. Input arrives as loosely typed JSON-ish values and is checked
 * here; results are plain JSON views (snake_case, as the REST API returns them). Nothing here logs secrets.
 */
import type { Logger } from '../../observability/log.js';
import { DEFAULT_ORG_ID } from '../store/migrations.js';
import {
  type AccessKeyInfo,
  type Account,
  type Org,
  type Role,
  StoreConflictError,
  type Team,
} from '../store/types.js';
import { ROLES, type AccountService, validUsername } from './account-service.js';
import {
  type Actor,
  administersOrg,
  administersUser,
  createUserRefusal,
  isServerAdmin,
  managesKeysOf,
  managesMembership,
  seesTeam,
} from './admin-policy.js';

export type AdminErrorKind = 'invalid' | 'forbidden' | 'not_found' | 'conflict';

export class AdminError extends Error {
  constructor(
    readonly kind: AdminErrorKind,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export interface UserView {
  id: string;
  username: string;
  role: Role;
  org: string;
  org_id: string;
  teams: string[];
  team_ids: string[];
  created_at: number;
  disabled: boolean;
}

export interface KeyView {
  id: string;
  label: string;
  created_at: number;
  last_used_at: number | null;
  revoked_at: number | null;
  active: boolean;
}

export interface TeamView {
  id: string;
  name: string;
  org: string;
  org_id: string;
  created_at: number;
}

export function keyView(k: AccessKeyInfo): KeyView {
  return {
    id: k.id,
    label: k.label,
    created_at: k.createdAt,
    last_used_at: k.lastUsedAt,
    revoked_at: k.revokedAt,
    active: k.revokedAt === null,
  };
}

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9 ._-]{0,63}$/;

function obj(raw: unknown): Record<string, unknown> {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new AdminError('invalid', 'invalid_request', 'body must be a JSON object');
  }
  return raw as Record<string, unknown>;
}

function optString(b: Record<string, unknown>, key: string): string | undefined {
  const v = b[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw new AdminError('invalid', 'invalid_request', `${key} must be a string`);
  return v;
}

function label(b: Record<string, unknown>): string {
  const l = optString(b, 'label') ?? 'default';
  if (!/^[\x20-\x7e]{1,128}$/.test(l)) {
    throw new AdminError('invalid', 'invalid_request', 'label must be 1-128 printable ASCII characters');
  }
  return l;
}

function role(v: unknown): Role {
  if (typeof v !== 'string' || !(ROLES as readonly string[]).includes(v)) {
    throw new AdminError('invalid', 'invalid_role', `role must be one of ${ROLES.join(', ')}`);
  }
  return v as Role;
}

function teamNames(v: unknown): string[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) {
    throw new AdminError('invalid', 'invalid_request', 'teams must be an array of team names or ids');
  }
  return v;
}

const forbidden = (msg: string): AdminError => new AdminError('forbidden', 'forbidden', msg);

async function conflictToError<T>(op: () => Promise<T>): Promise<T> {
  try {
    return await op();
  } catch (err) {
    if (err instanceof StoreConflictError) throw new AdminError('conflict', 'already_exists', err.message);
    throw err;
  }
}

export class AdminOperations {
  constructor(
    private readonly accounts: AccountService,
    private readonly log?: Logger,
  ) {}

  private get store() {
    return this.accounts.store;
  }

  private audit(actor: Actor, msg: string, fields: Record<string, unknown>): void {
    this.log?.info(msg, { by: actor === 'local' ? 'local-cli' : actor.username, ...fields });
  }

  async userView(a: Account): Promise<UserView> {
    const org = await this.store.getOrg(a.orgId);
    const teams = await Promise.all(a.teamIds.map((id) => this.store.getTeam(id)));
    return {
      id: a.id,
      username: a.username,
      role: a.role,
      org: org?.name ?? a.orgId,
      org_id: a.orgId,
      teams: teams.map((t, i) => t?.name ?? a.teamIds[i]!),
      team_ids: a.teamIds,
      created_at: a.createdAt,
      disabled: a.disabled,
    };
  }

  private async teamView(t: Team): Promise<TeamView> {
    const org = await this.store.getOrg(t.orgId);
    return { id: t.id, name: t.name, org: org?.name ?? t.orgId, org_id: t.orgId, created_at: t.createdAt };
  }

  /** The org named (by name or id), else the actor's own. */
  private async resolveOrg(actor: Actor, ref: string | undefined): Promise<Org> {
    if (ref === undefined) {
      const id = actor === 'local' ? DEFAULT_ORG_ID : actor.orgId;
      return (await this.store.getOrg(id))!;
    }
    const org = (await this.store.getOrgByName(ref)) ?? (await this.store.getOrg(ref));
    if (!org) throw new AdminError('not_found', 'org_not_found', `no org "${ref}"`);
    return org;
  }

  /** A team of the org, by name or id. */
  private async resolveTeam(orgId: string, ref: string): Promise<Team> {
    const byId = await this.store.getTeam(ref);
    const team = byId && byId.orgId === orgId ? byId : await this.store.getTeamByName(orgId, ref);
    if (!team) throw new AdminError('not_found', 'team_not_found', `no team "${ref}" in this org`);
    return team;
  }

  /** A user the actor may administer (or, with `keysOnly`, whose keys it manages); 404 otherwise. */
  private async target(actor: Actor, username: string, keysOnly = false): Promise<Account> {
    const a = await this.store.getAccountByUsername(username);
    if (!a || !(keysOnly ? managesKeysOf(actor, a) : administersUser(actor, a))) {
      throw new AdminError('not_found', 'user_not_found', `no user "${username}" that you may administer`);
    }
    return a;
  }

  async whoami(actor: Account): Promise<UserView> {
    return this.userView(actor);
  }

  async listUsers(actor: Actor): Promise<UserView[]> {
    const all = await this.store.listAccounts();
    return Promise.all(all.filter((a) => administersUser(actor, a)).map((a) => this.userView(a)));
  }

  async getUser(actor: Actor, username: string): Promise<UserView> {
    const self = actor !== 'local' && actor.username === username;
    return this.userView(self ? actor : await this.target(actor, username));
  }

  async createUser(
    actor: Actor,
    raw: unknown,
  ): Promise<{ user: UserView; access_key?: string; key?: KeyView }> {
    const b = obj(raw);
    const username = optString(b, 'username') ?? '';
    if (!validUsername(username)) {
      throw new AdminError(
        'invalid',
        'invalid_username',
        'username must be 1-64 characters: letters, digits and . _ @ + - (starting with a letter or digit)',
      );
    }
    const r = role(b['role'] ?? 'team_member');
    const org = await this.resolveOrg(actor, optString(b, 'org'));
    const teams = await Promise.all(teamNames(b['teams']).map((t) => this.resolveTeam(org.id, t)));
    const withKey = b['create_key'] ?? true;
    if (typeof withKey !== 'boolean')
      throw new AdminError('invalid', 'invalid_request', 'create_key must be a boolean');
    const keyLabel = label(b);
    const refusal = createUserRefusal(actor, { role: r, orgId: org.id, teams });
    if (refusal) throw forbidden(refusal);
    const made = await conflictToError(() =>
      this.accounts.createUser(
        { username, role: r, orgId: org.id, teamIds: teams.map((t) => t.id) },
        { withKey, keyLabel },
      ),
    );
    this.audit(actor, 'user created', { username, role: r, org: org.name, teams: teams.map((t) => t.name) });
    const user = await this.userView(made.account);
    return made.key ? { user, access_key: made.key, key: keyView(made.keyInfo!) } : { user };
  }

  /** Changes `disabled`, `role` and/or `teams` (the full new list). */
  async updateUser(actor: Actor, username: string, raw: unknown): Promise<UserView> {
    const b = obj(raw);
    for (const k of Object.keys(b)) {
      if (!['disabled', 'role', 'teams'].includes(k)) {
        throw new AdminError(
          'invalid',
          'invalid_request',
          `unknown field "${k}" (allowed: disabled, role, teams)`,
        );
      }
    }
    const target = await this.target(actor, username);
    const self = actor !== 'local' && actor.id === target.id;
    const disabled = b['disabled'];
    if (disabled !== undefined && typeof disabled !== 'boolean') {
      throw new AdminError('invalid', 'invalid_request', 'disabled must be a boolean');
    }
    const newRole = b['role'] === undefined ? undefined : role(b['role']);
    const teams =
      b['teams'] === undefined
        ? undefined
        : await Promise.all(teamNames(b['teams']).map((t) => this.resolveTeam(target.orgId, t)));
    // Check everything before changing anything.
    if (self && (disabled === true || (newRole !== undefined && newRole !== target.role))) {
      throw forbidden('you cannot disable yourself or change your own role');
    }
    if (newRole !== undefined && newRole !== target.role && !administersOrg(actor, target.orgId)) {
      throw forbidden('only org admins change roles');
    }
    if (teams) {
      const ids = teams.map((t) => t.id);
      const changed = [
        ...ids.filter((id) => !target.teamIds.includes(id)),
        ...target.teamIds.filter((id) => !ids.includes(id)),
      ];
      for (const id of changed) {
        const team = teams.find((t) => t.id === id) ?? (await this.store.getTeam(id));
        if (!team || !managesMembership(actor, team, target)) {
          throw forbidden(`you may not change membership of team "${team?.name ?? id}"`);
        }
      }
    }
    if (disabled !== undefined) await this.accounts.setDisabled(target.id, disabled);
    if (newRole !== undefined) await this.accounts.setRole(target.id, newRole);
    if (teams)
      await this.accounts.setTeams(
        target.id,
        teams.map((t) => t.id),
      );
    this.audit(actor, 'user updated', {
      username,
      disabled,
      role: newRole,
      teams: teams?.map((t) => t.name),
    });
    return this.userView((await this.store.getAccountById(target.id))!);
  }

  async listKeys(actor: Actor, username: string): Promise<KeyView[]> {
    const target = await this.target(actor, username, true);
    return (await this.accounts.listKeys(target.id)).map(keyView);
  }

  async createKey(
    actor: Actor,
    username: string,
    raw: unknown,
  ): Promise<{ access_key: string; key: KeyView }> {
    const l = label(obj(raw));
    const target = await this.target(actor, username, true);
    const { key, info } = await this.accounts.createKey(target.id, l);
    this.audit(actor, 'access key created', { username, key_id: info.id, label: l });
    return { access_key: key, key: keyView(info) };
  }

  async rotateKey(
    actor: Actor,
    username: string,
    keyId: string,
  ): Promise<{ access_key: string; key: KeyView; replaced: string }> {
    const target = await this.target(actor, username, true);
    const fresh = await this.accounts.rotateKey(target.id, keyId);
    if (!fresh)
      throw new AdminError('not_found', 'key_not_found', `no active key ${keyId} of user "${username}"`);
    this.audit(actor, 'access key rotated', { username, key_id: fresh.info.id, replaced: keyId });
    return { access_key: fresh.key, key: keyView(fresh.info), replaced: keyId };
  }

  async revokeKey(actor: Actor, username: string, keyId: string): Promise<KeyView> {
    const target = await this.target(actor, username, true);
    if (!(await this.accounts.revokeKey(target.id, keyId))) {
      throw new AdminError('not_found', 'key_not_found', `no active key ${keyId} of user "${username}"`);
    }
    this.audit(actor, 'access key revoked', { username, key_id: keyId });
    return keyView((await this.store.getAccessKey(keyId))!);
  }

  async listOrgs(actor: Actor): Promise<{ id: string; name: string; created_at: number }[]> {
    const orgs = await this.store.listOrgs();
    return orgs
      .filter((o) => administersOrg(actor, o.id) || (actor !== 'local' && actor.orgId === o.id))
      .map((o) => ({ id: o.id, name: o.name, created_at: o.createdAt }));
  }

  async createOrg(actor: Actor, raw: unknown): Promise<{ id: string; name: string; created_at: number }> {
    const name = optString(obj(raw), 'name') ?? '';
    if (!NAME_RE.test(name)) {
      throw new AdminError(
        'invalid',
        'invalid_name',
        'name must be 1-64 characters: letters, digits, space . _ -',
      );
    }
    if (!isServerAdmin(actor)) throw forbidden('only org admins of the default org create orgs');
    const org = await conflictToError(() => this.store.createOrg(name));
    this.audit(actor, 'org created', { org: name });
    return { id: org.id, name: org.name, created_at: org.createdAt };
  }

  async listTeams(actor: Actor, orgRef?: string): Promise<TeamView[]> {
    const org = orgRef === undefined ? undefined : await this.resolveOrg(actor, orgRef);
    const teams = await this.store.listTeams(org?.id);
    return Promise.all(teams.filter((t) => seesTeam(actor, t)).map((t) => this.teamView(t)));
  }

  async createTeam(actor: Actor, raw: unknown): Promise<TeamView> {
    const b = obj(raw);
    const name = optString(b, 'name') ?? '';
    if (!NAME_RE.test(name)) {
      throw new AdminError(
        'invalid',
        'invalid_name',
        'name must be 1-64 characters: letters, digits, space . _ -',
      );
    }
    const org = await this.resolveOrg(actor, optString(b, 'org'));
    if (!administersOrg(actor, org.id)) throw forbidden('only org admins create teams');
    const team = await conflictToError(() => this.store.createTeam({ orgId: org.id, name }));
    this.audit(actor, 'team created', { team: name, org: org.name });
    return this.teamView(team);
  }

  /** Adds (`member: true`) or removes a user from a team of the user's org. */
  async setMembership(actor: Actor, teamRef: string, username: string, member: boolean): Promise<UserView> {
    const target = await this.target(actor, username);
    const team = await this.resolveTeam(target.orgId, teamRef);
    if (!managesMembership(actor, team, target))
      throw forbidden(`you may not change members of team "${team.name}"`);
    const ids = member ? [...target.teamIds, team.id] : target.teamIds.filter((id) => id !== team.id);
    const updated = await this.accounts.setTeams(target.id, ids);
    this.audit(actor, member ? 'team member added' : 'team member removed', { team: team.name, username });
    return this.userView(updated!);
  }
}
