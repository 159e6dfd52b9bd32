/**
 * Child processes and cleanup for the bench. Every daemon the bench starts is registered here so that one
 * cleanup (normal end, failure or SIGINT) stops them all and removes temp dirs and namespaces.
 * SLUICE_BENCH_LOG_DIR=<dir> also writes each process's output to <dir>/<script>-<pid>.log (e.g. with
 * SLUICE_BENCH_NODE_FLAGS=--trace-gc).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';

export interface Proc {
  child: ChildProcess;
  pid: number;
  /** stdout and stderr so far, for readiness lines and error messages. */
  output(): string;
  exited: Promise<number | null>;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

type Cleanup = () => Promise<void> | void;
const cleanups: Cleanup[] = [];
/** Set once cleanup has begun (e.g. on SIGINT): nothing new may start while the workloads unwind. */
let shuttingDown = false;

export function onCleanup(fn: Cleanup): void {
  cleanups.push(fn);
}

/** Runs registered cleanups newest first; safe to call twice. */
export async function cleanupAll(): Promise<void> {
  shuttingDown = true;
  while (cleanups.length > 0) {
    const fn = cleanups.pop()!;
    try {
      await fn();
    } catch (err) {
      process.stderr.write(`bench cleanup: ${(err as Error).message}\n`);
    }
  }
}

export async function tempDir(prefix: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), `sluice-bench-${prefix}-`));
  onCleanup(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

export interface StartOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Run inside this network namespace (one the bench created). */
  netns?: string;
  /** Keep at most this many characters of output (daemons may log a lot). */
  keep?: number;
  /** A cleanup step itself (e.g. deleting a namespace): allowed while the bench shuts down. */
  cleanup?: boolean;
}

export function start(cmd: string, args: string[], opts: StartOptions = {}): Proc {
  if (shuttingDown && !opts.cleanup) throw new Error('bench is shutting down');
  // `ip netns exec` execs the command, so the pid we get is the command's own (RSS reads rely on it).
  const [file, argv] = opts.netns ? ['ip', ['netns', 'exec', opts.netns, cmd, ...args]] : [cmd, args];
  const child = spawn(file, argv, {
    env: opts.env ?? process.env,
    cwd: opts.cwd,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const keep = opts.keep ?? 64_000;
  let out = '';
  const log = process.env.SLUICE_BENCH_LOG_DIR
    ? createWriteStream(
        join(
          process.env.SLUICE_BENCH_LOG_DIR,
          `${basename(args.find((a) => !a.startsWith('-')) ?? cmd)}-${child.pid}.log`,
        ),
      )
    : undefined;
  const add = (b: Buffer): void => {
    log?.write(b);
    out += b.toString();
    if (out.length > keep * 2) out = out.slice(-keep);
  };
  child.stdout.on('data', add);
  child.stderr.on('data', add);
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code) => resolve(code));
    child.once('error', (err) => {
      out += `\nspawn error: ${err.message}`;
      resolve(-1);
    });
  });
  let done = false;
  void exited.then(() => (done = true));
  const stop = async (signal: NodeJS.Signals = 'SIGTERM'): Promise<void> => {
    if (done) return;
    child.kill(signal);
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  };
  if (!opts.cleanup) onCleanup(() => stop());
  return { child, pid: child.pid ?? -1, output: () => out, exited, stop };
}

/** Runs a command to completion and returns its output; rejects on a non-zero exit. */
export async function run(cmd: string, args: string[], opts: StartOptions = {}): Promise<string> {
  const p = start(cmd, args, { ...opts, keep: 1_000_000 });
  const code = await p.exited;
  if (code !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${code}: ${p.output().slice(-2000)}`);
  return p.output();
}

/** A port that was free a moment ago, for daemons that cannot listen on port 0 themselves. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls `check` until it returns a value, or throws after `timeoutMs` naming `what`. */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined>,
  timeoutMs = 15_000,
  intervalMs = 50,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(intervalMs);
  }
}

/** Resident set size of a process in KiB, from /proc. */
export async function rssKiB(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const m = /VmRSS:\s+(\d+) kB/.exec(status);
  if (!m) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(m[1]);
}
