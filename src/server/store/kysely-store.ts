/**
 * The Store over any Kysely dialect. SQL here stays within what SQLite and PostgreSQL share (no RETURNING, no
 * upserts, JSON kept as text), so the PostgreSQL store (postgres-store.ts) is this class with another dialect.
 */
import { randomBytes } from 'node:crypto';
import { type Kysely, type Selectable, sql } from 'kysely';
import { DEFAULT_ORG_ID } from './migrations.js';
import type {
  AccessKeysTable,
  AccountsTable,
  Database,
  TunnelsTable,
  WebDriverSessionsTable,
} from './schema.js';
import {
  type AccessKeyInfo,
  type AuditEntry,
  type Account,
  type NewTunnel,
  type Org,
  type Role,
  type Store,
  StoreConflictError,
  type Team,
  type TunnelRecord,
  type TunnelStatus,
  type WebDriverSession,
} from './types.js';

const nowSeconds = (): number => Math.floor(Date.now() / 1000);

let lastIdMs = 0;
/**
 * A UUIDv7 (48-bit millisecond time, then random bits): ids sort in creation order, so lists ordered by id are
 * stable even when several rows share a creation second. Strictly increasing within this process.
 */
export function newId(): string {
  lastIdMs = Math.max(Date.now(), lastIdMs + 1);
  const b = randomBytes(16);
  b.writeUIntBE(lastIdMs, 0, 6);
  b[6] = (b[6]! & 0x0f) | 0x70;
  b[8] = (b[8]! & 0x3f) | 0x80;
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** better-sqlite3 and node-postgres both report unique violations with recognisable codes. */
function isUniqueViolation(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  return code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || code === '23505';
}

async function unique<T>(what: string, op: () => Promise<T>): Promise<T> {
  try {
    return await op();
  } catch (err) {
    if (isUniqueViolation(err)) throw new StoreConflictError(`${what} already exists`);
    throw err;
  }
}

function keyInfo(r: Selectable<AccessKeysTable>): AccessKeyInfo {
  return {
    id: r.id,
    accountId: r.account_id,
    label: r.label,
    createdAt: Number(r.created_at),
    lastUsedAt: r.last_used_at === null ? null : Number(r.last_used_at),
    revokedAt: r.revoked_at === null ? null : Number(r.revoked_at),
  };
}

function tunnelRecord(r: Selectable<TunnelsTable>): TunnelRecord {
  const list = (s: string): string[] => JSON.parse(s) as string[];
  return {
    id: r.id,
    owner: r.owner,
    ownerId: r.owner_id,
    name: r.name,
    status: r.status as TunnelStatus,
    tunnelPool: r.tunnel_pool === 1,
    shared: r.shared === 'all' ? 'all' : '',
    metadata: JSON.parse(r.metadata) as Record<string, unknown>,
    tunnelDomains: list(r.tunnel_domains),
    directDomains: list(r.direct_domains),
    denyDomains: list(r.deny_domains),
    tlsResignDomains: list(r.tls_resign_domains),
    tlsPassthroughDomains: list(r.tls_passthrough_domains),
    tokenHash: r.token_hash,
    creationTime: Number(r.creation_time),
    lastConnected: r.last_connected === null ? null : Number(r.last_connected),
    shutdownTime: r.shutdown_time === null ? null : Number(r.shutdown_time),
    shutdownReason: r.shutdown_reason,
    userShutdown: r.user_shutdown === null ? null : r.user_shutdown === 1,
  };
}

function webDriverSession(r: Selectable<WebDriverSessionsTable>): WebDriverSession {
  return {
    id: r.id,
    accountId: r.account_id,
    tunnelOwnerId: r.tunnel_owner_id,
    tunnelName: r.tunnel_name,
    ownTunnel: r.own_tunnel === 1,
    proxyPort: r.proxy_port === null ? null : Number(r.proxy_port),
    upstreamUrl: r.upstream_url,
    upstreamSessionId: r.upstream_session_id,
    upstreamWsUrl: r.upstream_ws_url,
    status: r.status === 'active' ? 'active' : 'starting',
    createdAt: Number(r.created_at),
    lastUsedAt: Number(r.last_used_at),
  };
}

export class KyselyStore implements Store {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly onClose: () => Promise<void> = () => db.destroy(),
  ) {}

  private async accounts(rows: Selectable<AccountsTable>[]): Promise<Account[]> {
    if (rows.length === 0) return [];
    const links = await this.db
      .selectFrom('account_teams')
      .select(['account_id', 'team_id'])
      .where(
        'account_id',
        'in',
        rows.map((r) => r.id),
      )
      .orderBy('team_id')
      .execute();
    return rows.map((r) => ({
      id: r.id,
      username: r.username,
      role: r.role as Role,
      orgId: r.org_id,
      teamIds: links.filter((l) => l.account_id === r.id).map((l) => l.team_id),
      createdAt: Number(r.created_at),
      disabled: r.disabled === 1,
    }));
  }

  private async oneAccount(column: 'id' | 'username', value: string): Promise<Account | null> {
    const rows = await this.db.selectFrom('accounts').selectAll().where(column, '=', value).execute();
    return (await this.accounts(rows))[0] ?? null;
  }

  async createAccount(a: {
    username: string;
    role: Role;
    orgId?: string;
    teamIds?: string[];
  }): Promise<Account> {
    const id = newId();
    await unique(`user "${a.username}"`, () =>
      this.db.transaction().execute(async (trx) => {
        await trx
          .insertInto('accounts')
          .values({
            id,
            username: a.username,
            role: a.role,
            org_id: a.orgId ?? DEFAULT_ORG_ID,
            created_at: nowSeconds(),
            disabled: 0,
          })
          .execute();
        for (const teamId of new Set(a.teamIds ?? [])) {
          await trx.insertInto('account_teams').values({ account_id: id, team_id: teamId }).execute();
        }
      }),
    );
    return (await this.getAccountById(id))!;
  }

  getAccountByUsername(username: string): Promise<Account | null> {
    return this.oneAccount('username', username);
  }

  getAccountById(id: string): Promise<Account | null> {
    return this.oneAccount('id', id);
  }

  async listAccounts(filter: { orgId?: string; teamId?: string } = {}): Promise<Account[]> {
    let q = this.db.selectFrom('accounts').selectAll('accounts');
    if (filter.orgId !== undefined) q = q.where('accounts.org_id', '=', filter.orgId);
    if (filter.teamId !== undefined) {
      q = q
        .innerJoin('account_teams', 'account_teams.account_id', 'accounts.id')
        .where('account_teams.team_id', '=', filter.teamId);
    }
    return this.accounts(await q.orderBy('accounts.id').execute());
  }

  async countAccounts(): Promise<number> {
    const r = await this.db
      .selectFrom('accounts')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .executeTakeFirstOrThrow();
    return Number(r.n);
  }

  async updateAccount(id: string, change: { role?: Role; disabled?: boolean }): Promise<Account | null> {
    const values: { role?: string; disabled?: number } = {};
    if (change.role !== undefined) values.role = change.role;
    if (change.disabled !== undefined) values.disabled = change.disabled ? 1 : 0;
    if (Object.keys(values).length > 0) {
      await this.db.updateTable('accounts').set(values).where('id', '=', id).execute();
    }
    return this.getAccountById(id);
  }

  async setAccountTeams(accountId: string, teamIds: string[]): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      await trx.deleteFrom('account_teams').where('account_id', '=', accountId).execute();
      for (const teamId of new Set(teamIds)) {
        await trx.insertInto('account_teams').values({ account_id: accountId, team_id: teamId }).execute();
      }
    });
  }

  async createOrg(name: string): Promise<Org> {
    const org = { id: newId(), name, created_at: nowSeconds() };
    await unique(`org "${name}"`, () => this.db.insertInto('orgs').values(org).execute());
    return { id: org.id, name, createdAt: org.created_at };
  }

  private async org(column: 'id' | 'name', value: string): Promise<Org | null> {
    const r = await this.db.selectFrom('orgs').selectAll().where(column, '=', value).executeTakeFirst();
    return r ? { id: r.id, name: r.name, createdAt: Number(r.created_at) } : null;
  }

  getOrg(id: string): Promise<Org | null> {
    return this.org('id', id);
  }

  getOrgByName(name: string): Promise<Org | null> {
    return this.org('name', name);
  }

  async listOrgs(): Promise<Org[]> {
    const rows = await this.db.selectFrom('orgs').selectAll().orderBy('created_at').orderBy('id').execute();
    return rows.map((r) => ({ id: r.id, name: r.name, createdAt: Number(r.created_at) }));
  }

  async createTeam(t: { orgId: string; name: string }): Promise<Team> {
    const row = { id: newId(), org_id: t.orgId, name: t.name, created_at: nowSeconds() };
    await unique(`team "${t.name}"`, () => this.db.insertInto('teams').values(row).execute());
    return { id: row.id, orgId: t.orgId, name: t.name, createdAt: row.created_at };
  }

  private async team(where: { id: string } | { orgId: string; name: string }): Promise<Team | null> {
    let q = this.db.selectFrom('teams').selectAll();
    q =
      'id' in where
        ? q.where('id', '=', where.id)
        : q.where('org_id', '=', where.orgId).where('name', '=', where.name);
    const r = await q.executeTakeFirst();
    return r ? { id: r.id, orgId: r.org_id, name: r.name, createdAt: Number(r.created_at) } : null;
  }

  getTeam(id: string): Promise<Team | null> {
    return this.team({ id });
  }

  getTeamByName(orgId: string, name: string): Promise<Team | null> {
    return this.team({ orgId, name });
  }

  async listTeams(orgId?: string): Promise<Team[]> {
    let q = this.db.selectFrom('teams').selectAll();
    if (orgId !== undefined) q = q.where('org_id', '=', orgId);
    const rows = await q.orderBy('id').execute();
    return rows.map((r) => ({ id: r.id, orgId: r.org_id, name: r.name, createdAt: Number(r.created_at) }));
  }

  async addAccessKey(accountId: string, keyHash: string, label: string): Promise<AccessKeyInfo> {
    const row = {
      id: newId(),
      account_id: accountId,
      key_hash: keyHash,
      label,
      created_at: nowSeconds(),
      last_used_at: null,
      revoked_at: null,
    };
    await this.db.insertInto('access_keys').values(row).execute();
    return keyInfo(row);
  }

  async activeKeyHashes(accountId: string): Promise<{ id: string; hash: string }[]> {
    const rows = await this.db
      .selectFrom('access_keys')
      .select(['id', 'key_hash'])
      .where('account_id', '=', accountId)
      .where('revoked_at', 'is', null)
      .execute();
    return rows.map((r) => ({ id: r.id, hash: r.key_hash }));
  }

  async setAccessKeyHash(keyId: string, keyHash: string): Promise<void> {
    await this.db.updateTable('access_keys').set({ key_hash: keyHash }).where('id', '=', keyId).execute();
  }

  async touchAccessKey(keyId: string, at: number): Promise<void> {
    await this.db.updateTable('access_keys').set({ last_used_at: at }).where('id', '=', keyId).execute();
  }

  async listAccessKeys(accountId: string): Promise<AccessKeyInfo[]> {
    const rows = await this.db
      .selectFrom('access_keys')
      .selectAll()
      .where('account_id', '=', accountId)
      .orderBy('id')
      .execute();
    return rows.map(keyInfo);
  }

  async getAccessKey(keyId: string): Promise<AccessKeyInfo | null> {
    const r = await this.db.selectFrom('access_keys').selectAll().where('id', '=', keyId).executeTakeFirst();
    return r ? keyInfo(r) : null;
  }

  async revokeAccessKey(keyId: string, at: number): Promise<boolean> {
    const r = await this.db
      .updateTable('access_keys')
      .set({ revoked_at: at })
      .where('id', '=', keyId)
      .where('revoked_at', 'is', null)
      .executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  }

  async insertTunnel(t: NewTunnel): Promise<TunnelRecord> {
    await this.db
      .insertInto('tunnels')
      .values({
        id: t.id,
        owner: t.owner,
        owner_id: t.ownerId,
        name: t.name,
        status: 'running',
        tunnel_pool: t.tunnelPool ? 1 : 0,
        shared: t.shared,
        metadata: JSON.stringify(t.metadata),
        tunnel_domains: JSON.stringify(t.tunnelDomains),
        direct_domains: JSON.stringify(t.directDomains),
        deny_domains: JSON.stringify(t.denyDomains),
        tls_resign_domains: JSON.stringify(t.tlsResignDomains),
        tls_passthrough_domains: JSON.stringify(t.tlsPassthroughDomains),
        token_hash: t.tokenHash,
        creation_time: t.creationTime,
        last_connected: null,
        shutdown_time: null,
        shutdown_reason: null,
        user_shutdown: null,
      })
      .execute();
    return (await this.getTunnel(t.id))!;
  }

  async getTunnel(id: string): Promise<TunnelRecord | null> {
    const r = await this.db.selectFrom('tunnels').selectAll().where('id', '=', id).executeTakeFirst();
    return r ? tunnelRecord(r) : null;
  }

  async listTunnels(filter: {
    ownerId?: string;
    name?: string;
    status?: TunnelStatus;
    limit?: number;
  }): Promise<TunnelRecord[]> {
    let q = this.db.selectFrom('tunnels').selectAll();
    if (filter.ownerId !== undefined) q = q.where('owner_id', '=', filter.ownerId);
    if (filter.name !== undefined) q = q.where('name', '=', filter.name);
    if (filter.status !== undefined) q = q.where('status', '=', filter.status);
    q = q.orderBy('seq', 'desc');
    if (filter.limit !== undefined) q = q.limit(filter.limit);
    return (await q.execute()).map(tunnelRecord);
  }

  async addAudit(e: Omit<AuditEntry, 'seq'>): Promise<void> {
    await this.db.insertInto('audit_log').values(e).execute();
  }

  async listAudit(filter: { limit?: number } = {}): Promise<AuditEntry[]> {
    const rows = await this.db
      .selectFrom('audit_log')
      .selectAll()
      .orderBy('seq', 'desc')
      .limit(filter.limit ?? 100)
      .execute();
    return rows.map((r) => ({ ...r, seq: Number(r.seq), at: Number(r.at) }));
  }

  async pruneTunnels(stoppedBefore: number): Promise<number> {
    const r = await this.db
      .deleteFrom('tunnels')
      .where('status', '=', 'terminated')
      .where('shutdown_time', '<', stoppedBefore)
      .executeTakeFirst();
    return Number(r.numDeletedRows);
  }

  async markTunnelConnected(id: string, at: number): Promise<void> {
    await this.db.updateTable('tunnels').set({ last_connected: at }).where('id', '=', id).execute();
  }

  async terminateTunnel(id: string, reason: string, userShutdown: boolean, at: number): Promise<void> {
    await this.db
      .updateTable('tunnels')
      .set({
        status: 'terminated',
        shutdown_time: at,
        shutdown_reason: reason,
        user_shutdown: userShutdown ? 1 : 0,
      })
      .where('id', '=', id)
      .where('status', '=', 'running')
      .execute();
  }

  async insertWebDriverSession(w: WebDriverSession): Promise<void> {
    await unique(`proxy port ${w.proxyPort}`, () =>
      this.db
        .insertInto('webdriver_sessions')
        .values({
          id: w.id,
          account_id: w.accountId,
          tunnel_owner_id: w.tunnelOwnerId,
          tunnel_name: w.tunnelName,
          own_tunnel: w.ownTunnel ? 1 : 0,
          proxy_port: w.proxyPort,
          upstream_url: w.upstreamUrl,
          upstream_session_id: w.upstreamSessionId,
          upstream_ws_url: w.upstreamWsUrl,
          status: w.status,
          created_at: w.createdAt,
          last_used_at: w.lastUsedAt,
        })
        .execute(),
    );
  }

  async getWebDriverSession(id: string): Promise<WebDriverSession | null> {
    const r = await this.db
      .selectFrom('webdriver_sessions')
      .selectAll()
      .where('id', '=', id)
      .executeTakeFirst();
    return r ? webDriverSession(r) : null;
  }

  async getWebDriverSessionByPort(port: number): Promise<WebDriverSession | null> {
    const r = await this.db
      .selectFrom('webdriver_sessions')
      .selectAll()
      .where('proxy_port', '=', port)
      .executeTakeFirst();
    return r ? webDriverSession(r) : null;
  }

  async activateWebDriverSession(
    id: string,
    upstreamSessionId: string,
    upstreamWsUrl: string | null,
  ): Promise<boolean> {
    const r = await this.db
      .updateTable('webdriver_sessions')
      .set({ upstream_session_id: upstreamSessionId, upstream_ws_url: upstreamWsUrl, status: 'active' })
      .where('id', '=', id)
      .executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  }

  async touchWebDriverSession(id: string, at: number): Promise<void> {
    await this.db.updateTable('webdriver_sessions').set({ last_used_at: at }).where('id', '=', id).execute();
  }

  async deleteWebDriverSession(id: string): Promise<boolean> {
    const r = await this.db.deleteFrom('webdriver_sessions').where('id', '=', id).executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }

  async listWebDriverSessions(filter: {
    tunnelOwnerId?: string;
    tunnelName?: string;
    idleBefore?: number;
  }): Promise<WebDriverSession[]> {
    let q = this.db.selectFrom('webdriver_sessions').selectAll();
    if (filter.tunnelOwnerId !== undefined) q = q.where('tunnel_owner_id', '=', filter.tunnelOwnerId);
    if (filter.tunnelName !== undefined) q = q.where('tunnel_name', '=', filter.tunnelName);
    if (filter.idleBefore !== undefined) q = q.where('last_used_at', '<', filter.idleBefore);
    return (await q.orderBy('created_at').execute()).map(webDriverSession);
  }

  async boundProxyPorts(): Promise<number[]> {
    const rows = await this.db
      .selectFrom('webdriver_sessions')
      .select('proxy_port')
      .where('proxy_port', 'is not', null)
      .execute();
    return rows.map((r) => Number(r.proxy_port));
  }

  async getSetting(key: string): Promise<string | null> {
    const r = await this.db.selectFrom('settings').select('value').where('key', '=', key).executeTakeFirst();
    return r?.value ?? null;
  }

  async setSetting(key: string, value: string): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      const r = await trx.updateTable('settings').set({ value }).where('key', '=', key).executeTakeFirst();
      if (Number(r.numUpdatedRows) === 0) await trx.insertInto('settings').values({ key, value }).execute();
    });
  }

  async ping(): Promise<void> {
    await sql`select 1`.execute(this.db);
  }

  close(): Promise<void> {
    return this.onClose();
  }
}
