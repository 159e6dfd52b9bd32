/**
 * A real PostgreSQL for tests: Debian's server binaries (scripts/setup-debian.sh installs `postgresql`), a fresh
 * cluster in a kit temp dir (`initdb -A trust --no-sync`, run as the `postgres` user when we are root, since
 * initdb refuses root), listening on 127.0.0.1 on a free port and a socket in that dir, fsync off. cleanup()
 * stops it (fast); the process exit hook stops it at once if nothing else did.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { chownSync, existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { onCleanup, tempDir } from './cleanup.js';
import { freePort } from './daemon.js';

export interface Postgres {
  /** postgres://postgres@127.0.0.1:PORT/postgres (trust auth: any password is accepted). */
  url: string;
  port: number;
  /** A URL of a new, empty database (each test its own). */
  newDatabase(prefix?: string): Promise<string>;
  /**
   * The same database through the server's Unix socket (`?host=<dir>`): reachable from processes in another
   * network namespace, which cannot reach this one's 127.0.0.1.
   */
  socketUrl(url: string): string;
  /** Stops the server (fast shutdown: connections are cut); start() brings it back on the same port. */
  stop(): Promise<void>;
  start(): Promise<void>;
  /** The server's log so far (for failure messages). */
  logs(): string;
}

/** The newest /usr/lib/postgresql/N/bin with initdb, or null when PostgreSQL is not installed. */
export function postgresBinDir(): string | null {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return null;
  const versions = readdirSync(root)
    .filter((v) => /^\d+$/.test(v) && existsSync(join(root, v, 'bin', 'initdb')))
    .sort((a, b) => Number(b) - Number(a));
  return versions.length ? join(root, versions[0]!, 'bin') : null;
}

/** Why PostgreSQL tests cannot run here (for `{ skip }`), or false when they can. */
export function postgresMissing(): string | false {
  return postgresBinDir() ? false : 'PostgreSQL is not installed (scripts/setup-debian.sh installs it)';
}

const live = new Set<() => void>();
process.once('exit', () => {
  for (const kill of live) kill();
});

/** Starts a PostgreSQL cluster of its own; stopped by cleanup(). */
export async function startPostgres(): Promise<Postgres> {
  const bin = postgresBinDir();
  if (!bin) throw new Error(postgresMissing() as string);
  const dir = await tempDir('sluice-pg-');
  const asRoot = process.getuid?.() === 0;
  const run = (cmd: string, args: string[]): string => {
    const [file, argv] = asRoot
      ? ['runuser', ['-u', 'postgres', '--', join(bin, cmd), ...args]]
      : [join(bin, cmd), args];
    return execFileSync(file, argv, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 60_000 });
  };
  if (asRoot) {
    const ids = execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim();
    const gid = execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim();
    chownSync(dir, Number(ids), Number(gid));
  }
  const data = join(dir, 'data');
  const logFile = join(dir, 'postgres.log');
  run('initdb', ['-D', data, '-A', 'trust', '--no-sync', '-U', 'postgres', '-E', 'UTF8', '--locale=C']);
  const port = await freePort();
  const opts = `-c listen_addresses=127.0.0.1 -p ${port} -k ${dir} -c fsync=off -c max_connections=200`;
  let running = false;
  const pgCtl = (args: string[]): string => run('pg_ctl', ['-D', data, ...args]);
  const readLog = (): string => {
    try {
      return execFileSync('cat', [logFile], { encoding: 'utf8' });
    } catch {
      return '';
    }
  };
  const start = (): Promise<void> => {
    try {
      pgCtl(['-l', logFile, '-o', opts, '-w', '-t', '60', 'start']);
    } catch (err) {
      throw new Error(`PostgreSQL did not start: ${(err as Error).message}\n${readLog()}`, { cause: err });
    }
    running = true;
    return Promise.resolve();
  };
  const stopNow = (): void => {
    if (!running) return;
    running = false;
    const file = asRoot ? 'runuser' : join(bin, 'pg_ctl');
    const pre = asRoot ? ['-u', 'postgres', '--', join(bin, 'pg_ctl')] : [];
    spawnSync(file, [...pre, '-D', data, '-m', 'immediate', '-w', 'stop'], { stdio: 'ignore' });
  };
  live.add(stopNow);
  await start();
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  let n = 0;
  onCleanup(() => {
    live.delete(stopNow);
    if (running) {
      running = false;
      try {
        pgCtl(['-m', 'fast', '-w', 'stop']);
      } catch {
        stopNow();
      }
    }
  });
  return {
    url,
    port,
    async newDatabase(prefix = 'sluice') {
      const name = `${prefix}_${process.pid}_${++n}`;
      run('createdb', ['-h', '127.0.0.1', '-p', String(port), '-U', 'postgres', name]);
      return `postgres://postgres@127.0.0.1:${port}/${name}`;
    },
    socketUrl(u: string) {
      return `${u}${u.includes('?') ? '&' : '?'}host=${encodeURIComponent(dir)}`;
    },
    stop() {
      if (running) {
        pgCtl(['-m', 'fast', '-w', 'stop']);
        running = false;
      }
      return Promise.resolve();
    },
    start,
    logs: readLog,
  };
}
