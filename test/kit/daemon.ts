/**
 * Real daemons for the tests (squid, tinyproxy, dante, a KDC, PostgreSQL...): a free loopback port to give them,
 * a check that one listens, and a child in its own process group that cleanup kills, group and all.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import { onCleanup } from './cleanup.js';

/** A port free on 127.0.0.1 now (for daemons that cannot be told port 0). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

/** Whether something accepts TCP connections on 127.0.0.1:port. */
export function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port }, () => {
      s.destroy();
      resolve(true);
    });
    s.on('error', () => resolve(false));
  });
}

/**
 * A long-running child in its own process group (daemons such as danted fork workers), its stdout and stderr
 * collected; cleanup SIGKILLs the whole group.
 */
export function spawnDaemon(
  cmd: string,
  args: string[],
  env?: NodeJS.ProcessEnv,
): { proc: ChildProcess; output: () => string } {
  let out = '';
  const proc = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true, env });
  proc.stdout.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr.on('data', (d: Buffer) => (out += d.toString()));
  onCleanup(async () => {
    if (proc.exitCode === null && proc.signalCode === null) {
      const exited = new Promise((r) => proc.once('exit', r));
      process.kill(-proc.pid!, 'SIGKILL');
      await exited;
    }
  });
  return { proc, output: () => out };
}
