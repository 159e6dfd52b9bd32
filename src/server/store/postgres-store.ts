/**
 * The shared store: PostgreSQL through Kysely's PostgresDialect and node-postgres (`pg`, pure JS, loaded only
 * when a postgres:// store is chosen). Same migrations and the same KyselyStore as the embedded SQLite store;
 * what differs is here: a connection pool, timeouts, migrations under an advisory lock (several nodes starting at
 * once), and errors of an unreachable database turned into StoreUnavailableError, which callers answer with 503
 * (docs/decisions/0014-postgres-store.md).
 */
import type { Pool, PoolConfig } from 'pg';
import { Kysely, PostgresDialect, sql } from 'kysely';
import type { Logger } from '../../observability/log.js';
import { KyselyStore } from './kysely-store.js';
import { migrateToLatest } from './migrations.js';
import type { Database as Schema } from './schema.js';
import { StoreUnavailableError, type Store } from './types.js';

export interface PostgresStoreOptions {
  /** Most connections this process holds open (default 10). */
  poolSize?: number;
  /** How long to wait for a connection (to be made, or free in the pool) before failing (ms; default 5000). */
  connectTimeoutMs?: number;
  /** Server-side statement_timeout of every query (ms; default 10000; 0 = none). */
  statementTimeoutMs?: number;
  /** Password when the URL has none (a mounted Secret's file); else pg reads PGPASSWORD. */
  password?: string;
  log?: Logger;
}

/** Session advisory lock key held while migrating: "sluice" + 14 in ASCII-ish, any fixed 64-bit number works. */
export const MIGRATION_LOCK_KEY = 0x736c7569636514n;

/** The URL with any password replaced by `****`, for logs and error messages. */
export function redactStoreUrl(spec: string): string {
  try {
    const u = new URL(spec);
    if (u.password) u.password = '****';
    return u.toString();
  } catch {
    return spec.replace(/\/\/([^/@:]*):[^/@]*@/, '//$1:****@');
  }
}

/** The password in a store URL ('' when none), to scrub from logs. */
export function storeUrlPassword(spec: string): string {
  try {
    return decodeURIComponent(new URL(spec).password);
  } catch {
    return '';
  }
}

/** SQLSTATE classes and driver codes that mean "the database is not reachable now", not "the query is wrong". */
const UNAVAILABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EPIPE',
  '57P01', // admin_shutdown
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now (starting up, shutting down, recovering)
  '57014', // query_canceled: statement_timeout
  '53300', // too_many_connections
  '55P03', // lock_not_available
]);
const UNAVAILABLE_TEXT =
  /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|connection timeout|Cannot use a pool after calling end|Client was closed/i;

export function isUnavailableError(err: unknown): boolean {
  if (err instanceof StoreUnavailableError) return true;
  const e = err as { code?: unknown; message?: unknown } | null;
  if (!e || typeof e !== 'object') return false;
  if (typeof e.code === 'string' && (UNAVAILABLE_CODES.has(e.code) || e.code.startsWith('08'))) return true;
  return typeof e.message === 'string' && UNAVAILABLE_TEXT.test(e.message);
}

/** The database answered but refuses us: wrong password or user, no such database. Retrying will not help. */
export class StoreRefusedError extends Error {
  override name = 'StoreRefusedError';
}
const REFUSED_CODES = new Set(['28000', '28P01', '3D000', '42501']);

function unavailable(where: string, err: unknown): StoreUnavailableError {
  const e = err as { code?: unknown; message?: unknown };
  const why = [typeof e.code === 'string' ? e.code : '', typeof e.message === 'string' ? e.message : '']
    .filter(Boolean)
    .join(': ');
  return new StoreUnavailableError(`store ${where} is unavailable: ${why || String(err)}`, { cause: err });
}

/**
 * The store, with every method's connection failures rethrown as StoreUnavailableError naming the database
 * (password redacted). Other errors (conflicts, bugs) pass unchanged.
 */
function mapUnavailable(store: Store, where: string, secret: string): Store {
  const scrub = (e: StoreUnavailableError): StoreUnavailableError =>
    secret.length >= 4 && e.message.includes(secret)
      ? new StoreUnavailableError(e.message.split(secret).join('****'), { cause: e.cause })
      : e;
  return new Proxy(store, {
    get(target, prop, receiver) {
      const v = Reflect.get(target, prop, receiver) as unknown;
      if (typeof v !== 'function' || prop === 'close') return v;
      return async (...args: unknown[]) => {
        try {
          return await (v as (...a: unknown[]) => Promise<unknown>).apply(target, args);
        } catch (err) {
          if (err instanceof StoreUnavailableError) throw err;
          if (isUnavailableError(err)) throw scrub(unavailable(where, err));
          throw err;
        }
      };
    },
  });
}

/** The `pg` package is missing (an install that left out dependencies). */
export class PostgresDriverError extends Error {
  override name = 'PostgresDriverError';
}

async function loadPg(): Promise<typeof import('pg')> {
  try {
    const mod = (await import('pg')) as typeof import('pg') & { default?: typeof import('pg') };
    return mod.default ?? mod;
  } catch (err) {
    throw new PostgresDriverError(
      `a postgres:// --store needs the pg package, which did not load: ${(err as Error).message.split('\n')[0]}. ` +
        'Reinstall sc-server with its dependencies.',
      { cause: err },
    );
  }
}

/** Runs the migrations on one connection holding a session advisory lock, so concurrent nodes migrate in turn. */
async function migrateLocked(db: Kysely<Schema>): Promise<string[]> {
  return db.connection().execute(async (conn) => {
    await sql`select pg_advisory_lock(${sql.lit(MIGRATION_LOCK_KEY)})`.execute(conn);
    try {
      return await migrateToLatest(conn as Kysely<unknown>);
    } finally {
      await sql`select pg_advisory_unlock(${sql.lit(MIGRATION_LOCK_KEY)})`.execute(conn);
    }
  });
}

/**
 * Connects to the database at `url`, brings its schema up to date and returns the store. Throws
 * StoreUnavailableError (URL without password) when the database cannot be reached; the caller decides whether to
 * retry (src/server/store/open.ts does, with backoff).
 */
export async function openPostgresStore(url: string, opts: PostgresStoreOptions = {}): Promise<Store> {
  const where = redactStoreUrl(url);
  const secret = storeUrlPassword(url) || opts.password || process.env['PGPASSWORD'] || '';
  const pg = await loadPg();
  const statementTimeout = opts.statementTimeoutMs ?? 10_000;
  const config: PoolConfig = {
    connectionString: url,
    max: opts.poolSize ?? 10,
    connectionTimeoutMillis: opts.connectTimeoutMs ?? 5000,
    idleTimeoutMillis: 30_000,
    // A database host that vanishes without closing (a partition) is noticed by TCP keepalive, not never.
    keepAlive: true,
    keepAliveInitialDelayMillis: 10_000,
    application_name: 'sc-server',
    ...(statementTimeout > 0 ? { statement_timeout: statementTimeout } : {}),
    ...(opts.password && !storeUrlPassword(url) ? { password: opts.password } : {}),
  };
  let pool: Pool;
  try {
    pool = new pg.Pool(config);
  } catch (err) {
    throw new StoreUnavailableError(`store ${where}: ${(err as Error).message}`);
  }
  // An idle client whose server went away emits 'error' on the pool; unhandled, that would end the process.
  pool.on('error', (err) => {
    const message = secret.length >= 4 ? err.message.split(secret).join('****') : err.message;
    opts.log?.warn('store connection lost', { store: where, error: message });
  });
  const db = new Kysely<Schema>({ dialect: new PostgresDialect({ pool }) });
  try {
    await migrateLocked(db);
  } catch (err) {
    await db.destroy().catch(() => undefined);
    const cause = ((err as Error).cause ?? err) as { code?: unknown; message?: unknown };
    if (isUnavailableError(err) || isUnavailableError(cause)) throw unavailable(where, cause);
    if (typeof cause.code === 'string' && REFUSED_CODES.has(cause.code))
      throw new StoreRefusedError(
        `store ${where} refused this server: ${cause.code}: ${String(cause.message)}`,
        {
          cause,
        },
      );
    throw err;
  }
  return mapUnavailable(new KyselyStore(db), where, secret);
}
