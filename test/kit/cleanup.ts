/**
 * Everything the kit starts registers here, so one `after(cleanup)` (or the process exit hook, as a last resort)
 * stops every process and removes every temp dir even when a test failed half-way.
 */
import { type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

type Cleanup = () => unknown;

const cleanups = new Set<Cleanup>();
const children = new Set<ChildProcess>();
const dirs = new Set<string>();

/** Registers a cleanup; returns a function that runs it once and unregisters it. */
export function onCleanup(fn: Cleanup): () => Promise<void> {
  let ran = false;
  const once = async (): Promise<void> => {
    if (ran) return;
    ran = true;
    cleanups.delete(once);
    await fn();
  };
  cleanups.add(once);
  return once;
}

/**
 * Runs every registered cleanup, newest first and one at a time, so processes die before their temp dirs go.
 * Safe to call many times; the first failure is rethrown after all have run.
 */
export async function cleanup(): Promise<void> {
  let first: unknown;
  for (const fn of [...cleanups].reverse()) {
    try {
      await fn();
    } catch (err) {
      first ??= err;
    }
  }
  if (first !== undefined) throw first instanceof Error ? first : new Error(JSON.stringify(first));
}

/** Kills a child on process exit if nothing stopped it before. */
export function trackChild(child: ChildProcess): void {
  children.add(child);
  child.once('exit', () => children.delete(child));
}

/** A fresh directory under the OS temp dir, removed by cleanup(). */
export async function tempDir(prefix = 'sluice-e2e-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  dirs.add(dir);
  onCleanup(async () => {
    dirs.delete(dir);
    await rm(dir, { recursive: true, force: true, maxRetries: 3 });
  });
  return dir;
}

/** Removes a kit temp dir now (and forgets it). */
export async function removeTempDir(dir: string): Promise<void> {
  dirs.delete(dir);
  await rm(dir, { recursive: true, force: true });
}

process.once('exit', () => {
  for (const c of children) c.kill('SIGKILL');
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Polls `fn` until it returns something other than undefined/false; throws after `ms` with `what` and the
 * output of `context()` (process logs), so a stuck wait fails with the evidence instead of hanging.
 */
export async function waitFor<T>(
  what: string,
  fn: () => Promise<T | undefined | false> | T | undefined | false,
  ms = 20_000,
  context?: () => string,
): Promise<T> {
  const end = Date.now() + ms;
  let lastError: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined && v !== false) return v;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > end) {
      const why = lastError ? ` (last error: ${(lastError as Error).message})` : '';
      throw new Error(`timed out after ${ms} ms waiting for ${what}${why}${context ? `\n${context()}` : ''}`);
    }
    await sleep(50);
  }
}

/** Rejects with `what` if `p` does not settle within `ms`. */
export async function within<T>(p: Promise<T>, ms: number, what: string, context?: () => string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`timed out after ${ms} ms: ${what}${context ? `\n${context()}` : ''}`)),
      ms,
    );
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
