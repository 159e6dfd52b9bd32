/** Runs `sc-server ...` or `sc ...` to completion (for admin commands and bad-flag checks), with a bound. */
import { spawn } from 'node:child_process';
import { CLIENT_MAIN, SERVER_MAIN } from '../kit/index.js';

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

export function runCli(
  program: 'sc' | 'sc-server',
  args: string[],
  opts: { env?: Record<string, string | undefined>; cwd?: string; boundMs?: number } = {},
): Promise<CliResult> {
  const env: Record<string, string | undefined> = { ...process.env };
  for (const k of Object.keys(env)) if (k.startsWith('SC_') || k.startsWith('SAUCE_')) delete env[k];
  Object.assign(env, opts.env);
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [program === 'sc' ? CLIENT_MAIN : SERVER_MAIN, ...args], {
      env,
      cwd: opts.cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, opts.boundMs ?? 20_000);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, timedOut });
    });
  });
}
