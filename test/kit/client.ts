/** Launches a real `sc run` against a kit server, with its local API on loopback port 0. */
import { get } from 'node:http';
import { NodeProcess, CLIENT_MAIN, type Exit } from './process.js';
import type { TestServer } from './server.js';

export interface ClientOptions {
  tunnelName: string;
  /** Extra flags, after the defaults (a later flag wins for scalar options). */
  args?: string[];
  env?: Record<string, string>;
  username?: string;
  accessKey?: string;
  /** Wait for the ready line and /readyz 200 (default true). */
  waitReady?: boolean;
  /** Pass no flags at all except `run` and `args`: for tests of configuration by SAUCE_* env. */
  bare?: boolean;
  /** Wait for the API address line (default true unless bare without --api-address). */
  waitApi?: boolean;
  timeoutMs?: number;
}

export interface TestClient {
  proc: NodeProcess['proc'];
  process: NodeProcess;
  /** http://127.0.0.1:PORT of the local API (set once the API logged its address). */
  apiUrl: string;
  logs(): string;
  waitForLog(re: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  waitReady(timeoutMs?: number): Promise<void>;
  waitExit(timeoutMs?: number): Promise<Exit>;
  stop(signal?: NodeJS.Signals): Promise<Exit>;
  kill(): Promise<Exit>;
  /** True until the process exits; `exited` resolves with how it exited. */
  readonly running: boolean;
  readonly exited: Promise<Exit>;
  /** The text of the local API's /metrics. */
  metrics(): Promise<string>;
  /** Requests this sc proxied with status 200 (sum of sauce_connect_http_requests_total{code="200"}). */
  served(): Promise<number>;
}

// SC5 also logs "please wait for 'you may start your tests'..." at start: that line is not the ready line.
export const READY_LINE = /^(?!.*please wait).*you may start your tests/m;
const API_LINE = /API server listening address="?(?:127\.0\.0\.1)?:(\d+)/;

/** GET on the local API: status and body ('' and status 0 when it does not answer). */
export function apiGet(apiUrl: string, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolvePromise) => {
    const req = get(apiUrl + path, { timeout: 5000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolvePromise({ status: res.statusCode ?? 0, body }));
      res.on('error', () => resolvePromise({ status: 0, body: '' }));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolvePromise({ status: 0, body: '' }));
  });
}

export function clientArgs(server: TestServer, opts: ClientOptions): string[] {
  if (opts.bare) return ['run', ...(opts.args ?? [])];
  return [
    'run',
    '--username',
    opts.username ?? server.admin.username,
    '--access-key',
    opts.accessKey ?? server.admin.accessKey,
    '--region',
    'us-west',
    '--tunnel-name',
    opts.tunnelName,
    '--rest-url',
    server.restUrl,
    '--cacert-file',
    server.caCert,
    '--proxy-localhost',
    'allow',
    '--api-address',
    '127.0.0.1:0',
    '--tunnel-connections',
    '2',
    ...(opts.args ?? []),
  ];
}

export async function startClient(server: TestServer, opts: ClientOptions): Promise<TestClient> {
  const env: Record<string, string | undefined> = { ...process.env };
  for (const k of Object.keys(env)) if (k.startsWith('SAUCE_') || k.startsWith('SC_')) delete env[k];
  Object.assign(env, opts.env);
  const p = new NodeProcess(`sc run (${opts.tunnelName})`, CLIENT_MAIN, clientArgs(server, opts), env);
  const timeoutMs = opts.timeoutMs ?? 20_000;
  const client: TestClient = {
    proc: p.proc,
    process: p,
    apiUrl: '',
    logs: () => p.logs(),
    waitForLog: (re, ms = timeoutMs) => p.waitForLog(re, ms),
    waitExit: (ms = timeoutMs) => p.waitExit(ms),
    async waitReady(ms = timeoutMs) {
      await p.waitForLog(READY_LINE, ms);
      if (client.apiUrl) {
        const r = await apiGet(client.apiUrl, '/readyz');
        if (r.status !== 200)
          throw new Error(`ready line logged but /readyz is ${r.status}\n${p.describe()}`);
      }
    },
    stop: (signal = 'SIGINT') => p.stop(signal),
    kill: () => p.kill(),
    get running() {
      return p.running;
    },
    exited: p.exited,
    async metrics() {
      if (!client.apiUrl) throw new Error('sc has no local API address (start it with waitApi)');
      const r = await apiGet(client.apiUrl, '/metrics');
      if (r.status !== 200) throw new Error(`sc /metrics answered ${r.status}\n${p.describe()}`);
      return r.body;
    },
    async served() {
      let n = 0;
      for (const m of (await client.metrics()).matchAll(
        /^sauce_connect_http_requests_total\{([^}]*)\} (\d+)/gm,
      ))
        if (m[1]!.includes('code="200"')) n += Number(m[2]);
      return n;
    },
  };
  const wantsApi =
    opts.waitApi ??
    (!opts.bare || (opts.args ?? []).includes('--api-address') || !!opts.env?.['SAUCE_API_ADDRESS']);
  if (wantsApi) {
    const m = await p.waitForLog(API_LINE, timeoutMs).catch(async (err: unknown) => {
      await p.kill();
      throw err;
    });
    client.apiUrl = `http://127.0.0.1:${m[1]}`;
  }
  if (opts.waitReady ?? true) {
    await client.waitReady().catch(async (err: unknown) => {
      await p.kill();
      throw err;
    });
  }
  return client;
}
