/**
 * Table shapes as the database sees them. Booleans are stored as 0/1 integers and lists/maps as JSON text so the
 * same queries run on SQLite and PostgreSQL; kysely-store.ts converts rows to the domain types in types.ts.
 */
import type { Generated } from 'kysely';

export interface OrgsTable {
  id: string;
  name: string;
  created_at: number;
}

export interface TeamsTable {
  id: string;
  org_id: string;
  name: string;
  created_at: number;
}

export interface AccountsTable {
  id: string;
  username: string;
  role: string;
  org_id: string;
  created_at: number;
  disabled: number;
}

export interface AccountTeamsTable {
  account_id: string;
  team_id: string;
}

export interface AccessKeysTable {
  id: string;
  account_id: string;
  key_hash: string;
  label: string;
  created_at: number;
  last_used_at: number | null;
  revoked_at: number | null;
}

export interface TunnelsTable {
  seq: Generated<number>;
  id: string;
  owner: string;
  owner_id: string;
  name: string;
  status: string;
  tunnel_pool: number;
  shared: string;
  metadata: string;
  tunnel_domains: string;
  direct_domains: string;
  deny_domains: string;
  tls_resign_domains: string;
  tls_passthrough_domains: string;
  token_hash: string;
  creation_time: number;
  last_connected: number | null;
  shutdown_time: number | null;
  shutdown_reason: string | null;
  user_shutdown: number | null;
}

export interface SettingsTable {
  key: string;
  value: string;
}

/** Times in milliseconds (idle timeouts are shorter than a few seconds' rounding would allow). */
export interface WebDriverSessionsTable {
  id: string;
  account_id: string;
  tunnel_owner_id: string | null;
  tunnel_name: string | null;
  own_tunnel: number;
  proxy_port: number | null;
  upstream_url: string;
  upstream_session_id: string | null;
  upstream_ws_url: string | null;
  status: string;
  created_at: number;
  last_used_at: number;
}

export interface AuditLogTable {
  seq: Generated<number>;
  at: number;
  actor: string;
  action: string;
  target: string;
  result: string;
}

export interface Database {
  orgs: OrgsTable;
  teams: TeamsTable;
  accounts: AccountsTable;
  account_teams: AccountTeamsTable;
  access_keys: AccessKeysTable;
  tunnels: TunnelsTable;
  settings: SettingsTable;
  webdriver_sessions: WebDriverSessionsTable;
  audit_log: AuditLogTable;
}
