/**
 * The storage contract of sc-server: the embedded SQLite store and the shared PostgreSQL one (both KyselyStore,
 * beside this file) implement it, so callers do not know which they have. All methods are async for that reason.
 */

export type Role = 'org_admin' | 'team_admin' | 'team_member' | 'service_account';

export interface Account {
  id: string;
  username: string;
  role: Role;
  orgId: string;
  /** Teams the account belongs to (team admins administer these teams). */
  teamIds: string[];
  createdAt: number; // unix seconds
  disabled: boolean;
}

export interface Org {
  id: string;
  name: string;
  createdAt: number;
}

export interface Team {
  id: string;
  orgId: string;
  name: string;
  createdAt: number;
}

export interface AccessKeyInfo {
  id: string;
  accountId: string;
  label: string;
  createdAt: number;
  lastUsedAt: number | null;
  revokedAt: number | null;
}

export type TunnelStatus = 'running' | 'terminated';

export interface TunnelRecord {
  id: string; // 32 hex chars
  owner: string; // username
  ownerId: string; // account id
  name: string; // tunnel_identifier
  status: TunnelStatus;
  tunnelPool: boolean;
  shared: '' | 'all';
  metadata: Record<string, unknown>;
  tunnelDomains: string[];
  directDomains: string[];
  denyDomains: string[];
  tlsResignDomains: string[];
  tlsPassthroughDomains: string[];
  /** Keyed hash of the connection token handed out at creation. */
  tokenHash: string;
  creationTime: number;
  lastConnected: number | null;
  shutdownTime: number | null;
  shutdownReason: string | null;
  userShutdown: boolean | null;
}

export type NewTunnel = Omit<
  TunnelRecord,
  'status' | 'lastConnected' | 'shutdownTime' | 'shutdownReason' | 'userShutdown'
>;

/**
 * A WebDriver gateway session: the upstream session it relays to, and the proxy port that carries its browser's
 * traffic into a tunnel (null when the session asked for no tunnel). Times in milliseconds.
 */
export interface WebDriverSession {
  id: string;
  accountId: string;
  tunnelOwnerId: string | null;
  tunnelName: string | null;
  /** The requester owns the tunnel (the proxy entry may splice its connections). */
  ownTunnel: boolean;
  proxyPort: number | null;
  upstreamUrl: string;
  upstreamSessionId: string | null;
  upstreamWsUrl: string | null;
  /** `starting` while the upstream creates the session, then `active`. */
  status: 'starting' | 'active';
  createdAt: number;
  lastUsedAt: number;
}

/** One admin action: who did what to what, when, and how it ended ('ok' or 'error:<code>'). */
export interface AuditEntry {
  seq: number;
  at: number; // unix seconds
  actor: string;
  action: string;
  target: string;
  result: string;
}

export interface Store {
  // accounts
  createAccount(a: { username: string; role: Role; orgId?: string; teamIds?: string[] }): Promise<Account>;
  getAccountByUsername(username: string): Promise<Account | null>;
  getAccountById(id: string): Promise<Account | null>;
  /** All accounts, or those of one org / one team; ordered by creation. */
  listAccounts(filter?: { orgId?: string; teamId?: string }): Promise<Account[]>;
  countAccounts(): Promise<number>;
  updateAccount(id: string, change: { role?: Role; disabled?: boolean }): Promise<Account | null>;
  /** Replaces the account's team memberships (teams must exist). */
  setAccountTeams(accountId: string, teamIds: string[]): Promise<void>;
  // orgs and teams (names are unique: orgs globally, teams within their org)
  createOrg(name: string): Promise<Org>;
  getOrg(id: string): Promise<Org | null>;
  getOrgByName(name: string): Promise<Org | null>;
  listOrgs(): Promise<Org[]>;
  createTeam(t: { orgId: string; name: string }): Promise<Team>;
  getTeam(id: string): Promise<Team | null>;
  getTeamByName(orgId: string, name: string): Promise<Team | null>;
  listTeams(orgId?: string): Promise<Team[]>;
  // access keys: the plain key is returned once by the caller that generated it; the store keeps only a keyed hash
  addAccessKey(accountId: string, keyHash: string, label: string): Promise<AccessKeyInfo>;
  /** Active (not revoked) key hashes of an account, for constant-time comparison by the caller. */
  activeKeyHashes(accountId: string): Promise<{ id: string; hash: string }[]>;
  /** Replaces a key's stored hash (rehash under a new server secret, on the key's first use after rotation). */
  setAccessKeyHash(keyId: string, keyHash: string): Promise<void>;
  touchAccessKey(keyId: string, at: number): Promise<void>;
  /** All keys of an account, revoked ones included, without hashes. */
  listAccessKeys(accountId: string): Promise<AccessKeyInfo[]>;
  getAccessKey(keyId: string): Promise<AccessKeyInfo | null>;
  /** Marks a key revoked; false when it does not exist or was already revoked. */
  revokeAccessKey(keyId: string, at: number): Promise<boolean>;
  // tunnels
  insertTunnel(t: NewTunnel): Promise<TunnelRecord>;
  getTunnel(id: string): Promise<TunnelRecord | null>;
  /** Newest first. */
  listTunnels(filter: {
    ownerId?: string;
    name?: string;
    status?: TunnelStatus;
    limit?: number;
  }): Promise<TunnelRecord[]>;
  /** Deletes terminated tunnels that stopped before `stoppedBefore` (unix seconds); returns how many. */
  pruneTunnels(stoppedBefore: number): Promise<number>;
  markTunnelConnected(id: string, at: number): Promise<void>;
  /** Ends a running tunnel; a tunnel already terminated keeps its first shutdown reason. */
  terminateTunnel(id: string, reason: string, userShutdown: boolean, at: number): Promise<void>;
  // WebDriver gateway sessions
  /** Throws StoreConflictError when its proxy port is bound already (by this node or another). */
  insertWebDriverSession(s: WebDriverSession): Promise<void>;
  getWebDriverSession(id: string): Promise<WebDriverSession | null>;
  getWebDriverSessionByPort(port: number): Promise<WebDriverSession | null>;
  /** Records the upstream's session and marks it active; false when the session was removed meanwhile. */
  activateWebDriverSession(
    id: string,
    upstreamSessionId: string,
    upstreamWsUrl: string | null,
  ): Promise<boolean>;
  touchWebDriverSession(id: string, at: number): Promise<void>;
  /** True for the one caller that removed it (the one that must end the upstream session). */
  deleteWebDriverSession(id: string): Promise<boolean>;
  /** Sessions on one tunnel name of one owner, or those idle since before `idleBefore`; oldest first. */
  listWebDriverSessions(filter: {
    tunnelOwnerId?: string;
    tunnelName?: string;
    idleBefore?: number;
  }): Promise<WebDriverSession[]>;
  /** Proxy ports bound now, by any node. */
  boundProxyPorts(): Promise<number[]>;
  // audit log of admin actions (append-only)
  addAudit(e: Omit<AuditEntry, 'seq'>): Promise<void>;
  /** Newest first. */
  listAudit(filter?: { limit?: number }): Promise<AuditEntry[]>;
  // server settings (secret key for keyed hashes, CA paths...)
  getSetting(key: string): Promise<string | null>;
  setSetting(key: string, value: string): Promise<void>;
  /** Resolves when the database answers a trivial query (readiness); throws StoreUnavailableError when not. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** A write that would break a uniqueness rule (username, org name, team name in its org). */
export class StoreConflictError extends Error {
  readonly code = 'conflict';
}

/**
 * The database cannot be reached now (down, restarting, network, pool exhausted past the connect timeout, a
 * statement timeout). Callers answer 503 `store_unavailable`; the write did not happen or its outcome is unknown
 * to this caller, never acknowledged. The message names the store without its password.
 */
export class StoreUnavailableError extends Error {
  override readonly name = 'StoreUnavailableError';
  readonly code = 'store_unavailable';
}
