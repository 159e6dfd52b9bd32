/**
 * Backup and restore of a data directory, for `sc-server admin backup|restore`.
 *
 * A backup is a directory (mode 0700) of files (mode 0600): a consistent copy of sluice.db made with SQLite's
 * online backup (safe while the server runs and writes), the server secret that keys every stored hash, and the
 * CA and server certificates and keys (so clients that trust the CA keep trusting a restored server), plus
 * backup.json saying what and when. Restoring copies those files into a data directory that no server is using;
 * it refuses a non-empty directory unless forced. The files hold secrets: keep a backup as safe as the data dir.
 */
import { existsSync } from 'node:fs';
import { chmod, copyFile, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { SECRET_FILE } from '../accounts/server-secret.js';
import { STORE_FILE } from './sqlite-store.js';

/** Files copied besides the database; the secret and the CA's pair must be there, the rest are re-made if not. */
export const BACKUP_FILES = [
  SECRET_FILE,
  'ca.pem',
  'ca-key.pem',
  'server.pem',
  'server-key.pem',
  'server-names.json',
];
const REQUIRED = [STORE_FILE, SECRET_FILE, 'ca.pem', 'ca-key.pem'];
export const MANIFEST = 'backup.json';

export class BackupError extends Error {}

export interface BackupManifest {
  format: 1;
  created_at: string;
  version: string;
  files: string[];
}

/** The pid in DIR/server.json when that process still runs (a server using the directory), else null. */
export async function runningServerPid(dir: string): Promise<number | null> {
  let pid: unknown;
  try {
    pid = (JSON.parse(await readFile(join(dir, 'server.json'), 'utf8')) as { pid?: unknown }).pid;
  } catch {
    return null;
  }
  if (typeof pid !== 'number' || !Number.isInteger(pid) || pid <= 0 || pid === process.pid) return null;
  try {
    process.kill(pid, 0);
    return pid;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM' ? pid : null;
  }
}

async function isEmptyDir(dir: string): Promise<boolean> {
  try {
    return (await readdir(dir)).length === 0;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return true;
    throw err;
  }
}

/** Writes a backup of data dir `dir` into the new directory `out`. */
export async function backupDataDir(dir: string, out: string, version: string): Promise<BackupManifest> {
  if (!existsSync(join(dir, STORE_FILE)))
    throw new BackupError(`no Sluice store at ${join(dir, STORE_FILE)}`);
  if (!(await isEmptyDir(out))) throw new BackupError(`${out} exists and is not empty; name a new directory`);
  await mkdir(out, { recursive: true, mode: 0o700 });
  await chmod(out, 0o700);
  const db = new Database(join(dir, STORE_FILE), { fileMustExist: true });
  try {
    db.pragma('busy_timeout = 5000');
    await db.backup(join(out, STORE_FILE));
  } finally {
    db.close();
  }
  const files = [STORE_FILE];
  for (const name of BACKUP_FILES) {
    if (!existsSync(join(dir, name))) continue;
    await copyFile(join(dir, name), join(out, name));
    files.push(name);
  }
  for (const name of files) await chmod(join(out, name), 0o600);
  const missing = REQUIRED.filter((f) => !files.includes(f));
  if (missing.length)
    throw new BackupError(`${dir} has no ${missing.join(', ')}: not a complete data directory`);
  const manifest: BackupManifest = { format: 1, created_at: new Date().toISOString(), version, files };
  await writeFile(join(out, MANIFEST), JSON.stringify(manifest, null, 2) + '\n', { mode: 0o600 });
  return manifest;
}

/** Restores backup directory `from` into data dir `dir` (new or empty, or anything with `force`). */
export async function restoreDataDir(from: string, dir: string, force: boolean): Promise<BackupManifest> {
  let manifest: BackupManifest;
  try {
    manifest = JSON.parse(await readFile(join(from, MANIFEST), 'utf8')) as BackupManifest;
  } catch {
    throw new BackupError(`${from} is not a Sluice backup (no readable ${MANIFEST})`);
  }
  if (manifest.format !== 1 || !Array.isArray(manifest.files))
    throw new BackupError(
      `${join(from, MANIFEST)}: unknown backup format ${JSON.stringify(manifest.format)}`,
    );
  const files = manifest.files.filter((f) => f === STORE_FILE || BACKUP_FILES.includes(f));
  const missing = REQUIRED.filter((f) => !files.includes(f) || !existsSync(join(from, f)));
  if (missing.length) throw new BackupError(`${from} lacks ${missing.join(', ')}: incomplete backup`);
  const check = new Database(join(from, STORE_FILE), { readonly: true, fileMustExist: true });
  try {
    const result = check.pragma('integrity_check', { simple: true });
    if (result !== 'ok') throw new BackupError(`${join(from, STORE_FILE)} is damaged: ${String(result)}`);
  } catch (err) {
    if (err instanceof BackupError) throw err;
    throw new BackupError(`${join(from, STORE_FILE)} is not a readable database: ${(err as Error).message}`);
  } finally {
    check.close();
  }
  const pid = await runningServerPid(dir);
  if (pid !== null) throw new BackupError(`sc-server (pid ${pid}) is running on ${dir}; stop it first`);
  if (!force && !(await isEmptyDir(dir)))
    throw new BackupError(`${dir} is not empty; restore into a new directory or pass --force to replace it`);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await chmod(dir, 0o700);
  // A forced restore replaces the store: the old WAL and shared-memory files must not be replayed into it.
  for (const stale of [`${STORE_FILE}-wal`, `${STORE_FILE}-shm`, 'server.json'])
    await rm(join(dir, stale), { force: true });
  for (const name of files) {
    await copyFile(join(from, name), join(dir, name));
    await chmod(join(dir, name), 0o600);
  }
  return manifest;
}

/** The files every node of a cluster on a shared store must have alike (docs/cluster.md). */
export const SHARED_FILES = [SECRET_FILE, 'ca.pem', 'ca-key.pem'];

/**
 * Makes the shared state of a new cluster in the new directory `out`: a server secret and a CA (mode 0600), to be
 * put in one secret store and mounted into every node's data directory.
 */
export async function initSharedState(out: string): Promise<string> {
  if (!(await isEmptyDir(out))) throw new BackupError(`${out} exists and is not empty; name a new directory`);
  await mkdir(out, { recursive: true, mode: 0o700 });
  await chmod(out, 0o700);
  const { loadOrCreateSecret } = await import('../accounts/server-secret.js');
  const { loadOrCreatePki } = await import('../pki/ca.js');
  await loadOrCreateSecret(out);
  const pki = await loadOrCreatePki(out, ['localhost']);
  // Only what nodes share: each node issues its own server certificate from the CA.
  for (const name of await readdir(out))
    if (!SHARED_FILES.includes(name)) await rm(join(out, name), { recursive: true, force: true });
  for (const name of SHARED_FILES) await chmod(join(out, name), 0o600);
  return pki.fingerprint;
}
