/**
 * Which store a server opens: `--store` empty (the default) is the embedded SQLite file in the data directory,
 * `postgres://...` the shared PostgreSQL store. One switch; cluster settings check `isSharedStore`.
 */
import type { Logger } from '../../observability/log.js';
import { openSqliteStore } from './sqlite-store.js';
import { StoreUnavailableError, type Store } from './types.js';

export interface StoreConfig {
  /** '' or 'sqlite' = embedded in the data dir; postgres:// or postgresql:// = shared. */
  url: string;
  poolSize?: number;
  connectTimeoutMs?: number;
  statementTimeoutMs?: number;
  /** Password for a URL without one (read from --store-password-file). */
  password?: string;
  /**
   * At start, how long to keep retrying a database that cannot be reached (with backoff, logging each failure)
   * before giving up with an error; 0 = try once.
   */
  startRetryMs?: number;
}

export const isSharedStore = (url: string): boolean => /^postgres(ql)?:\/\//i.test(url);

/** Description of the store for logs (no password). */
export async function describeStore(cfg: StoreConfig, dataDir: string): Promise<string> {
  if (!isSharedStore(cfg.url)) return `sqlite:${dataDir}`;
  return (await import('./postgres-store.js')).redactStoreUrl(cfg.url);
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Opens the configured store. The embedded one is this process's alone (a second server on the directory is
 * refused). A shared one that cannot be reached is retried with backoff (1 s doubling to 15 s) for
 * `startRetryMs`, each failure logged, then StoreUnavailableError.
 */
export async function openStore(
  cfg: StoreConfig,
  dataDir: string,
  log: Logger,
  /** Called once, on the first failure that will be retried (run.ts then answers probes meanwhile). */
  onRetrying?: () => Promise<void>,
): Promise<Store> {
  if (!isSharedStore(cfg.url)) return openSqliteStore(dataDir, { exclusive: true });
  const { openPostgresStore } = await import('./postgres-store.js');
  const deadline = Date.now() + (cfg.startRetryMs ?? 0);
  let delay = 1000;
  for (;;) {
    try {
      return await openPostgresStore(cfg.url, {
        poolSize: cfg.poolSize,
        connectTimeoutMs: cfg.connectTimeoutMs,
        statementTimeoutMs: cfg.statementTimeoutMs,
        password: cfg.password,
        log,
      });
    } catch (err) {
      if (!(err instanceof StoreUnavailableError)) throw err;
      const left = deadline - Date.now();
      if (left <= 0) throw err;
      const wait = Math.min(delay, left);
      log.warn('store unavailable, retrying', { error: err.message, retry_in_ms: wait });
      const first = onRetrying;
      onRetrying = undefined;
      await first?.();
      await sleep(wait);
      delay = Math.min(delay * 2, 15_000);
    }
  }
}
