/**
 * The embedded store: one SQLite file DIR/sluice.db through better-sqlite3, in WAL mode so `sc-server admin`
 * can read and write while the server runs, with a busy timeout so their writes wait instead of failing.
 */
import { chmod, mkdir, readdir, rm } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import type BetterSqlite3 from 'better-sqlite3';
import { Kysely, SqliteDialect } from 'kysely';
import { KyselyStore } from './kysely-store.js';
import { migrateToLatest } from './migrations.js';
import type { Database as Schema } from './schema.js';
import type { Store } from './types.js';

export const STORE_FILE = 'sluice.db';

export interface SqliteStoreOptions {
  /** How long a write waits for another process's lock before failing (ms). */
  busyTimeoutMs?: number;
  /**
   * The server's open: take DIR/server.lock so a second server on the same directory refuses to start.
   * `sc-server admin` opens without it and keeps working beside a running server.
   */
  exclusive?: boolean;
}

/** The lock file a running server holds in its data directory. */
export const LOCK_FILE = 'server.lock';

/** Another server already uses the data directory (the embedded store is one process's). */
export class StoreInUseError extends Error {
  override name = 'StoreInUseError';
}

/**
 * Takes DIR/server.lock: a small SQLite file held in exclusive locking mode for the life of the server, so the
 * lock is the kernel's (a POSIX lock, as SQLite's own) and ends with the process however it ends, SIGKILL
 * included, and holds across containers sharing the volume on one host. A second server finds it busy and is
 * refused. Returns its release.
 */
export async function lockDataDir(Database: typeof BetterSqlite3, dir: string): Promise<() => Promise<void>> {
  const path = join(dir, LOCK_FILE);
  for (let attempt = 0; ; attempt++) {
    let db: BetterSqlite3.Database | undefined;
    try {
      db = new Database(path, { timeout: 0 });
      db.pragma('locking_mode = EXCLUSIVE');
      db.exec('create table if not exists holder (pid integer, host text, since integer)');
      // The first write takes the exclusive lock, which EXCLUSIVE mode keeps until the connection closes.
      db.transaction(() => {
        db!.prepare('delete from holder').run();
        db!.prepare('insert into holder values (?, ?, ?)').run(process.pid, hostname(), Date.now());
      })();
      const held = db;
      return () => {
        held.close();
        return Promise.resolve();
      };
    } catch (err) {
      db?.close();
      const code = (err as { code?: unknown }).code;
      if (code === 'SQLITE_NOTADB' && attempt === 0) {
        await rm(path, { force: true }); // an older release's plain-text lock file
        continue;
      }
      if (code !== 'SQLITE_BUSY' && code !== 'SQLITE_LOCKED') throw err;
      const { runningServerPid } = await import('./backup.js');
      const pid = await runningServerPid(dir);
      throw new StoreInUseError(
        `data directory ${dir} is in use by another sc-server${pid ? ` (pid ${pid})` : ''}: the embedded store ` +
          'serves one server process; stop that one, choose another --data-dir, or use a shared ' +
          '--store postgres://... for several nodes (docs/cluster.md)',
      );
    }
  }
}

/** The native SQLite driver is missing or does not load on this platform or Node version. */
export class SqliteDriverError extends Error {
  override name = 'SqliteDriverError';
}

/**
 * Loads better-sqlite3 on first use only, so that nothing else (the `sc` client, `sc-server version`) needs
 * its compiled binding; a missing or unloadable binding is one clear error instead of a stack trace.
 */
async function loadDriver(): Promise<typeof BetterSqlite3> {
  try {
    const Database = (await import('better-sqlite3')).default;
    // The compiled binding loads with the first database, not with the module: open one to know now.
    new Database(':memory:').close();
    return Database;
  } catch (err) {
    throw new SqliteDriverError(
      'the embedded store needs the better-sqlite3 package and its compiled binding for Node ' +
        `${process.versions.node} (${process.platform}-${process.arch}), which did not load: ` +
        `${(err as Error).message.split('\n')[0]}. Reinstall sc-server without --ignore-scripts ` +
        '(`npm install -g opentunnel-sc-server` builds or downloads the binding), or use the .deb, which ships it.',
    );
  }
}

/** Opens (creating if needed) DIR/sluice.db and brings its schema up to date. */
export async function openSqliteStore(dir: string, opts: SqliteStoreOptions = {}): Promise<Store> {
  const Database = await loadDriver();
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const unlock = opts.exclusive ? await lockDataDir(Database, dir) : () => Promise.resolve();
  let sqlite: BetterSqlite3.Database;
  try {
    sqlite = new Database(join(dir, STORE_FILE));
  } catch (err) {
    await unlock();
    throw err;
  }
  try {
    sqlite.pragma('journal_mode = WAL');
    sqlite.pragma(`busy_timeout = ${Math.max(0, Math.floor(opts.busyTimeoutMs ?? 5000))}`);
    sqlite.pragma('foreign_keys = ON');
    // WAL makes NORMAL durable against application crashes; only an OS crash can lose the last commits.
    sqlite.pragma('synchronous = NORMAL');
  } catch (err) {
    sqlite.close();
    await unlock();
    throw err;
  }
  const db = new Kysely<Schema>({ dialect: new SqliteDialect({ database: sqlite }) });
  try {
    await migrateToLatest(db as Kysely<unknown>);
  } catch (err) {
    await db.destroy();
    await unlock();
    throw err;
  }
  await secureDataDir(dir);
  return new KyselyStore(db, async () => {
    await db.destroy();
    await unlock();
  });
}

/**
 * The data directory holds the store (key hashes, tunnel tokens), the CA key and the server secret: it is kept
 * mode 0700 and every file in it 0600, whatever created them (another process's umask, an operator's cp, a
 * backup restored). Called on every open, so a restart repairs loosened modes (docs/security.md).
 */
export async function secureDataDir(dir: string): Promise<void> {
  // Best effort where modes cannot change (a read-only mount, files of another user): opening already worked.
  const tighten = (path: string, mode: number): Promise<void> =>
    chmod(path, mode).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'EROFS' && err.code !== 'EPERM' && err.code !== 'ENOENT') throw err;
    });
  await tighten(dir, 0o700);
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    if (entry.isFile()) await tighten(join(dir, entry.name), 0o600);
  }
}
