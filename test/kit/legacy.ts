/** `sc legacy` (SC4 command lines) as CI scripts run it, and a readyfile wait written the way those scripts are. */
import { spawn } from 'node:child_process';
import { within } from './cleanup.js';
import { CLIENT_MAIN, NodeProcess } from './process.js';

/**
 * Starts `sc legacy <args>` with only `env` as SAUCE_* variables (the test's own SAUCE_* and SC_* are dropped).
 * Nothing is added to the command line: the test writes the whole SC4 line.
 */
export function startLegacy(args: string[], env: Record<string, string> = {}): NodeProcess {
  const full: Record<string, string | undefined> = { ...process.env };
  for (const k of Object.keys(full)) if (k.startsWith('SAUCE_') || k.startsWith('SC_')) delete full[k];
  Object.assign(full, env);
  return new NodeProcess('sc legacy', CLIENT_MAIN, ['legacy', ...args], full);
}

/**
 * Runs `while [ ! -f "$READY" ]; do sleep 0.2; done` in /bin/sh, as an SC4 CI script waits for its readyfile;
 * resolves when the loop ends, rejects after `timeoutMs` (killing the shell) with `context()`.
 */
export async function shellWaitForFile(
  path: string,
  timeoutMs = 20_000,
  context?: () => string,
): Promise<void> {
  const sh = spawn('/bin/sh', ['-c', 'while [ ! -f "$READY" ]; do sleep 0.2; done'], {
    env: { ...process.env, READY: path },
    stdio: 'ignore',
  });
  const exited = new Promise<number | null>((r) => sh.once('exit', (code) => r(code)));
  try {
    const code = await within(exited, timeoutMs, `the shell loop waiting for ${path}`, context);
    if (code !== 0) throw new Error(`the shell loop waiting for ${path} exited with ${code}`);
  } finally {
    if (sh.exitCode === null) sh.kill('SIGKILL');
  }
}
