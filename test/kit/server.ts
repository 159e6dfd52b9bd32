/** Launches a real `sc-server start` on loopback port 0 and reads the addresses it writes to server.json. */
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { removeTempDir, sleep, tempDir, waitFor } from './cleanup.js';
import { NodeProcess, SERVER_MAIN, type Exit } from './process.js';
import type { ServerInfo } from '../../src/server/run.js';

/** What sc-server writes to DIR/server.json. */
export type ServerJson = ServerInfo;

export interface ServerOptions {
  env?: Record<string, string>;
  args?: string[];
  /** Admin account given through SC_ADMIN_USERNAME / SC_ADMIN_ACCESS_KEY; `null` leaves the env unset. */
  adminUser?: string | null;
  adminKey?: string | null;
  /** Reuse a data dir (restart); by default a fresh temp dir that stop() removes. */
  dataDir?: string;
  restAddress?: string;
  proxyAddress?: string;
  edgeAddress?: string;
  timeoutMs?: number;
}

export interface TestServer {
  dataDir: string;
  restUrl: string;
  /** host:port of the proxy entry. */
  proxyAddress: string;
  proxyPort: number;
  edgeAddress: string;
  /** Path of the CA certificate, and its PEM. */
  caCert: string;
  caPem: string;
  info: ServerJson;
  admin: { username: string; accessKey: string };
  proc: NodeProcess['proc'];
  process: NodeProcess;
  logs(): string;
  /** Graceful stop; removes the data dir when the kit created it. */
  stop: (signal?: NodeJS.Signals) => Promise<number | null>;
  kill(): Promise<Exit>;
  /** True until the process exits. */
  readonly running: boolean;
  /** Stops (SIGTERM) and starts again on the same data dir and the same three addresses. */
  restart(
    opts?: Omit<ServerOptions, 'dataDir' | 'restAddress' | 'proxyAddress' | 'edgeAddress'>,
  ): Promise<TestServer>;
}

export const randomKey = (): string => randomBytes(18).toString('base64url');

function portOf(hostPort: string): number {
  return Number(hostPort.slice(hostPort.lastIndexOf(':') + 1));
}

export async function startServer(opts: ServerOptions = {}): Promise<TestServer> {
  const owned = !opts.dataDir;
  const dataDir = opts.dataDir ?? join(await tempDir('sluice-e2e-server-'), 'data');
  const adminUser = opts.adminUser === undefined ? 'admin' : opts.adminUser;
  const adminKey = opts.adminKey === undefined ? randomKey() : opts.adminKey;
  const env: Record<string, string | undefined> = { ...process.env, ...opts.env };
  for (const k of Object.keys(env)) if (k.startsWith('SC_') || k.startsWith('SAUCE_')) delete env[k];
  Object.assign(env, opts.env);
  if (adminUser !== null) env['SC_ADMIN_USERNAME'] = adminUser;
  if (adminKey !== null) env['SC_ADMIN_ACCESS_KEY'] = adminKey;
  const args = [
    'start',
    '--data-dir',
    dataDir,
    '--rest-address',
    opts.restAddress ?? '127.0.0.1:0',
    '--proxy-address',
    opts.proxyAddress ?? '127.0.0.1:0',
    '--edge-address',
    opts.edgeAddress ?? '127.0.0.1:0',
    ...(opts.args ?? []),
  ];
  const p = new NodeProcess('sc-server', SERVER_MAIN, args, env);
  // A restarted server finds the old server.json: wait for one written by this process.
  const info = await waitFor(
    'server.json from sc-server',
    async () => {
      if (!p.running) throw new Error('sc-server exited');
      const j = JSON.parse(await readFile(join(dataDir, 'server.json'), 'utf8')) as ServerJson;
      return j.pid === p.proc.pid ? j : undefined;
    },
    opts.timeoutMs ?? 20_000,
    () => p.describe(),
  ).catch(async (err: unknown) => {
    await p.kill();
    if (owned) await removeTempDir(join(dataDir, '..'));
    throw err;
  });
  const caPem = await readFile(info.ca_cert, 'utf8');
  let generated: { username: string; accessKey: string } | null = null;
  if (adminKey === null) {
    const m = /username:\s+(\S+)\s+access key:\s+(\S+)/.exec(p.logs());
    if (m) generated = { username: m[1]!, accessKey: m[2]! };
  }
  const stop = async (signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> => {
    const exit = await p.stop(signal);
    if (owned) await removeTempDir(join(dataDir, '..'));
    return exit.code;
  };
  const server: TestServer = {
    dataDir,
    restUrl: info.rest_url,
    proxyAddress: info.proxy_address,
    proxyPort: portOf(info.proxy_address),
    edgeAddress: info.edge_address,
    caCert: info.ca_cert,
    caPem,
    info,
    admin: generated ?? { username: adminUser ?? 'admin', accessKey: adminKey ?? '' },
    proc: p.proc,
    process: p,
    logs: () => p.logs(),
    stop,
    kill: () => p.kill(),
    get running() {
      return p.running;
    },
    async restart(more = {}) {
      const exit = await p.stop('SIGTERM');
      if (exit.code !== 0) throw new Error(`sc-server exited ${exit.code} on restart\n${p.describe()}`);
      // The old ports were free a moment ago, but a busy machine may hand one to an outgoing connection
      // meanwhile: retry "address in use" for a few seconds before giving up.
      const again = (): Promise<TestServer> =>
        startServer({
          adminUser,
          adminKey,
          env: opts.env,
          args: opts.args,
          ...more,
          dataDir,
          restAddress: `127.0.0.1:${portOf(new URL(info.rest_url).host)}`,
          proxyAddress: info.proxy_address,
          edgeAddress: info.edge_address,
        });
      const deadline = Date.now() + 10_000;
      let next: TestServer;
      for (;;) {
        try {
          next = await again();
          break;
        } catch (err) {
          if (!/address in use/i.test((err as Error).message) || Date.now() > deadline) throw err;
          await sleep(250);
        }
      }
      if (owned) {
        // The first server's temp dir now belongs to the second one.
        const stopNext = next.stop;
        next.stop = async (signal) => {
          const code = await stopNext(signal);
          await removeTempDir(join(dataDir, '..'));
          return code;
        };
      }
      return next;
    },
  };
  return server;
}
