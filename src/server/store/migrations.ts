/**
 * Versioned schema migrations, defined in code so the built package carries them. Kysely's Migrator records
 * applied names in `kysely_migration` and takes a lock, so two processes opening one data dir (the server and
 * `sc-server admin`) do not both migrate. Names sort in order; never edit a shipped migration, add the next one.
 */
import { type Kysely, type Migration, type MigrationProvider, Migrator, PostgresAdapter, sql } from 'kysely';

/** The organisation every account belongs to unless told otherwise; its org admins run the server. */
export const DEFAULT_ORG_ID = 'default';

const postgres = (db: Kysely<unknown>): boolean => db.getExecutor().adapter instanceof PostgresAdapter;

const migrations: Record<string, Migration> = {
  '0001_initial': {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema
        .createTable('orgs')
        .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
        .addColumn('name', 'varchar(128)', (c) => c.notNull().unique())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('teams')
        .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
        .addColumn('org_id', 'varchar(64)', (c) => c.notNull().references('orgs.id'))
        .addColumn('name', 'varchar(128)', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addUniqueConstraint('teams_org_name', ['org_id', 'name'])
        .execute();
      await db.schema
        .createTable('accounts')
        .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
        .addColumn('username', 'varchar(128)', (c) => c.notNull().unique())
        .addColumn('role', 'varchar(32)', (c) => c.notNull())
        .addColumn('org_id', 'varchar(64)', (c) => c.notNull().references('orgs.id'))
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('disabled', 'integer', (c) => c.notNull().defaultTo(0))
        .execute();
      await db.schema
        .createTable('account_teams')
        .addColumn('account_id', 'varchar(64)', (c) => c.notNull().references('accounts.id'))
        .addColumn('team_id', 'varchar(64)', (c) => c.notNull().references('teams.id'))
        .addPrimaryKeyConstraint('account_teams_pk', ['account_id', 'team_id'])
        .execute();
      await db.schema
        .createTable('access_keys')
        .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
        .addColumn('account_id', 'varchar(64)', (c) => c.notNull().references('accounts.id'))
        .addColumn('key_hash', 'varchar(128)', (c) => c.notNull())
        .addColumn('label', 'varchar(256)', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('last_used_at', 'bigint')
        .addColumn('revoked_at', 'bigint')
        .execute();
      await db.schema.createIndex('access_keys_account').on('access_keys').column('account_id').execute();
      await db.schema
        .createTable('tunnels')
        // Insertion order, so history lists are stable even when several tunnels share a creation second.
        // The one dialect difference in the schema: PostgreSQL spells an autoincrement key `serial`.
        .addColumn('seq', postgres(db) ? 'serial' : 'integer', (c) =>
          postgres(db) ? c.primaryKey() : c.primaryKey().autoIncrement(),
        )
        .addColumn('id', 'varchar(64)', (c) => c.notNull().unique())
        .addColumn('owner', 'varchar(128)', (c) => c.notNull())
        .addColumn('owner_id', 'varchar(64)', (c) => c.notNull().references('accounts.id'))
        .addColumn('name', 'varchar(256)', (c) => c.notNull())
        .addColumn('status', 'varchar(32)', (c) => c.notNull())
        .addColumn('tunnel_pool', 'integer', (c) => c.notNull())
        .addColumn('shared', 'varchar(16)', (c) => c.notNull())
        .addColumn('metadata', 'text', (c) => c.notNull())
        .addColumn('tunnel_domains', 'text', (c) => c.notNull())
        .addColumn('direct_domains', 'text', (c) => c.notNull())
        .addColumn('deny_domains', 'text', (c) => c.notNull())
        .addColumn('tls_resign_domains', 'text', (c) => c.notNull())
        .addColumn('tls_passthrough_domains', 'text', (c) => c.notNull())
        .addColumn('token_hash', 'varchar(128)', (c) => c.notNull())
        .addColumn('creation_time', 'bigint', (c) => c.notNull())
        .addColumn('last_connected', 'bigint')
        .addColumn('shutdown_time', 'bigint')
        .addColumn('shutdown_reason', 'varchar(256)')
        .addColumn('user_shutdown', 'integer')
        .execute();
      await db.schema.createIndex('tunnels_owner').on('tunnels').columns(['owner_id', 'status']).execute();
      await db.schema.createIndex('tunnels_status').on('tunnels').column('status').execute();
      await db.schema
        .createTable('settings')
        .addColumn('key', 'varchar(128)', (c) => c.primaryKey())
        .addColumn('value', 'text', (c) => c.notNull())
        .execute();
      await sql`insert into orgs (id, name, created_at) values (${DEFAULT_ORG_ID}, ${DEFAULT_ORG_ID}, ${Math.floor(
        Date.now() / 1000,
      )})`.execute(db);
    },
  },
  '0002_webdriver_sessions': {
    // WebDriver gateway sessions (src/server/gateway): which upstream serves each, and the proxy port bound to its
    // tunnel. In the store, not in memory, so that every server node behind one address can relay a session's
    // commands and answer its browser on that port. A unique port makes two nodes' allocations exclusive.
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema
        .createTable('webdriver_sessions')
        .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
        .addColumn('account_id', 'varchar(64)', (c) => c.notNull().references('accounts.id'))
        .addColumn('tunnel_owner_id', 'varchar(64)')
        .addColumn('tunnel_name', 'varchar(256)')
        .addColumn('own_tunnel', 'integer', (c) => c.notNull())
        .addColumn('proxy_port', 'integer', (c) => c.unique())
        .addColumn('upstream_url', 'text', (c) => c.notNull())
        .addColumn('upstream_session_id', 'varchar(256)')
        .addColumn('upstream_ws_url', 'text')
        .addColumn('status', 'varchar(16)', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('last_used_at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema
        .createIndex('webdriver_sessions_tunnel')
        .on('webdriver_sessions')
        .columns(['tunnel_owner_id', 'tunnel_name'])
        .execute();
    },
  },
  '0003_audit_log': {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema
        .createTable('audit_log')
        .addColumn('seq', postgres(db) ? 'bigserial' : 'integer', (c) =>
          postgres(db) ? c.primaryKey() : c.primaryKey().autoIncrement(),
        )
        .addColumn('at', 'bigint', (c) => c.notNull())
        .addColumn('actor', 'varchar(128)', (c) => c.notNull())
        .addColumn('action', 'varchar(256)', (c) => c.notNull())
        .addColumn('target', 'varchar(512)', (c) => c.notNull())
        .addColumn('result', 'varchar(128)', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('audit_log_at').on('audit_log').column('at').execute();
    },
  },
  // Cluster mode (docs/cluster.md, decisions/0015): the nodes sharing this store and which node holds which
  // tunnel connection, each row with an expiry (ms since the epoch) that its node's heartbeat pushes ahead.
  '0004_cluster': {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema
        .createTable('cluster_nodes')
        .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
        .addColumn('link_address', 'varchar(300)', (c) => c.notNull())
        .addColumn('public_address', 'varchar(300)', (c) => c.notNull())
        .addColumn('started_at', 'bigint', (c) => c.notNull())
        .addColumn('draining', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('expires_at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('cluster_leases')
        .addColumn('conn_id', 'varchar(64)', (c) => c.primaryKey())
        .addColumn('tunnel_id', 'varchar(64)', (c) => c.notNull())
        .addColumn('node_id', 'varchar(64)', (c) => c.notNull())
        .addColumn('max_streams', 'integer', (c) => c.notNull())
        .addColumn('expires_at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('cluster_leases_node').on('cluster_leases').column('node_id').execute();
      await db.schema.createIndex('cluster_leases_tunnel').on('cluster_leases').column('tunnel_id').execute();
    },
  },
};

const provider: MigrationProvider = { getMigrations: () => Promise.resolve(migrations) };

/** Applies pending migrations; throws with the failing migration's name and cause. */
export async function migrateToLatest(db: Kysely<unknown>): Promise<string[]> {
  const migrator = new Migrator({ db, provider });
  const { error, results } = await migrator.migrateToLatest();
  const failed = results?.find((r) => r.status === 'Error');
  if (error) {
    const cause = error instanceof Error ? error.message : JSON.stringify(error);
    throw new Error(`store migration ${failed?.migrationName ?? ''} failed: ${cause}`, { cause: error });
  }
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}

/** Names of all migrations this build knows, in order (the schema version is the last one). */
export const knownMigrations = Object.keys(migrations).sort();
