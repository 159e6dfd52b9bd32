/**
 * The storage contract of sc-server. The embedded implementation (SQLite through Kysely) lives beside this file;
 * a PostgreSQL one can follow without changing callers. All methods are async for that reason.
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

export interface NewTunnel extends Omit<
  TunnelRecord,
  'status' | 'lastConnected' | 'shutdownTime' | 'shutdownReason' | 'userShutdown'
> {}

export interface Store {
  // accounts
  createAccount(a: { username: string; role: Role; orgId?: string; teamIds?: string[] }): Promise<Account>;
  getAccountByUsername(username: string): Promise<Account | null>;
  getAccountById(id: string): Promise<Account | null>;
  listAccounts(): Promise<Account[]>;
  countAccounts(): Promise<number>;
  // access keys: the plain key is returned once by the caller that generated it; the store keeps only a keyed hash
  addAccessKey(accountId: string, keyHash: string, label: string): Promise<AccessKeyInfo>;
  /** Active (not revoked) key hashes of an account, for constant-time comparison by the caller. */
  activeKeyHashes(accountId: string): Promise<{ id: string; hash: string }[]>;
  touchAccessKey(keyId: string, at: number): Promise<void>;
  // tunnels
  insertTunnel(t: NewTunnel): Promise<TunnelRecord>;
  getTunnel(id: string): Promise<TunnelRecord | null>;
  listTunnels(filter: { ownerId?: string; status?: TunnelStatus; limit?: number }): Promise<TunnelRecord[]>;
  markTunnelConnected(id: string, at: number): Promise<void>;
  terminateTunnel(id: string, reason: string, userShutdown: boolean, at: number): Promise<void>;
  // server settings (secret key for keyed hashes, CA paths...)
  getSetting(key: string): Promise<string | null>;
  setSetting(key: string, value: string): Promise<void>;
  close(): Promise<void>;
}
