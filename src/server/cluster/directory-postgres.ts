/**
 * The cluster directory on PostgreSQL: its own small pool (the store's pool stays for requests), and one
 * dedicated connection that LISTENs on `sluice_cluster`. A dropped listening connection is reopened with backoff;
 * notifications lost meanwhile are covered by the cluster's slow poll.
 */
import { Kysely, PostgresDialect, sql } from 'kysely';
import type { Logger } from '../../observability/log.js';
import { ClusterDirectory, type ClusterSchema, type ClusterSignal } from './directory.js';

export const CLUSTER_CHANNEL = 'sluice_cluster';

export interface PostgresDirectoryOptions {
  url: string;
  /** Password for a URL without one (the store's --store-password-file). */
  password?: string;
  connectTimeoutMs?: number;
  log: Logger;
}

export async function openPostgresDirectory(opts: PostgresDirectoryOptions): Promise<ClusterDirectory> {
  const pg = (await import('pg')).default;
  const base = {
    connectionString: opts.url,
    ...(opts.password ? { password: opts.password } : {}),
    connectionTimeoutMillis: opts.connectTimeoutMs ?? 5000,
  };
  const pool = new pg.Pool({ ...base, max: 2 });
  pool.on('error', (err) => opts.log.debug('cluster pool connection error', { error: err.message }));
  const db = new Kysely<ClusterSchema>({ dialect: new PostgresDialect({ pool }) });
  let closed = false;
  let client: InstanceType<typeof pg.Client> | null = null;
  const listeners = new Set<() => void>();
  let retry: NodeJS.Timeout | undefined;
  let delay = 500;

  const listen = async (): Promise<void> => {
    retry = undefined;
    if (closed) return;
    const c = new pg.Client(base);
    c.on('notification', () => {
      for (const fn of listeners) fn();
    });
    const reopen = (err?: Error): void => {
      if (client !== c || closed) return;
      client = null;
      opts.log.warn('cluster notifications lost, listening again', { error: err?.message ?? 'closed' });
      c.end().catch(() => undefined);
      // Whatever was announced meanwhile is picked up by the poll; tell the listeners to look now as well.
      for (const fn of listeners) fn();
      retry = setTimeout(() => void listen(), delay);
      delay = Math.min(delay * 2, 10_000);
    };
    c.on('error', reopen);
    c.on('end', () => reopen());
    client = c;
    try {
      await c.connect();
      await c.query(`LISTEN ${CLUSTER_CHANNEL}`);
      delay = 500;
    } catch (err) {
      reopen(err as Error);
    }
  };

  const signal: ClusterSignal = {
    async notify() {
      await sql`select pg_notify(${CLUSTER_CHANNEL}, '')`.execute(db);
    },
    async subscribe(fn) {
      listeners.add(fn);
      if (!client && !retry) await listen();
      return () => {
        listeners.delete(fn);
        return Promise.resolve();
      };
    },
  };
  return new ClusterDirectory(db, signal, async () => {
    closed = true;
    clearTimeout(retry);
    const c = client;
    client = null;
    await c?.end().catch(() => undefined);
    await db.destroy();
  });
}
