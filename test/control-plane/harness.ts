/**
 * Real processes for control-plane tests: sc-server and sc on port 0, REST calls over HTTPS with the server CA,
 * requests through the proxy entry, and a tiny origin. Everything started here is stopped in t.after.
 * (A shared test kit may replace this file once test/kit has equivalents.)
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { ServerInfo } from '../../src/server/run.js';

export interface TestContext {
  after(fn: () => unknown): void;
}

const ROOT = resolve(import.meta.dirname, '../../..');
const SERVER_MAIN = join(ROOT, 'dist/src/server/cli/main.js');
const CLIENT_MAIN = join(ROOT, 'dist/src/client/cli/main.js');

/** What sc-server writes to DIR/server.json. */
export type ServerJson = ServerInfo;

export async function tempDir(t: TestContext, prefix = 'sluice-cp-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Waits for `cond` to hold, polling; throws `what` after `ms` (a deadline for hangs, not a speed check). */
export async function waitFor<T>(
  what: string,
  fn: () => Promise<T | undefined> | T | undefined,
  ms = 15_000,
): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

class Proc {
  output = '';
  readonly exited: Promise<number | null>;
  constructor(readonly child: ChildProcess) {
    child.stdout?.on('data', (d: Buffer) => (this.output += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (this.output += d.toString()));
    this.exited = new Promise((r) => child.once('exit', (code) => r(code)));
  }
  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }
  /** Sends the signal and waits for exit; SIGKILL after 10 s so a test never leaks a process. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
    if (!this.running) return this.exited;
    this.child.kill(signal);
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 10_000);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }
}

export interface RestResult {
  status: number;
  headers: http.IncomingHttpHeaders;
  json: unknown;
  text: string;
}

export class ServerProc extends Proc {
  constructor(
    child: ChildProcess,
    readonly dataDir: string,
    readonly info: ServerJson,
    private readonly ca: Buffer,
  ) {
    super(child);
  }

  /** One REST call; `path` is relative to rest_url (e.g. "/admin/users"). */
  rest(
    method: string,
    path: string,
    auth: { user: string; key: string } | null,
    body?: unknown,
    rawBody?: string,
  ): Promise<RestResult> {
    const url = new URL(this.info.rest_url + path);
    const payload = rawBody ?? (body === undefined ? undefined : JSON.stringify(body));
    return new Promise((resolvePromise, reject) => {
      const req = https.request(
        url,
        {
          method,
          ca: this.ca,
          agent: false,
          headers: {
            accept: 'application/json',
            ...(payload !== undefined ? { 'content-type': 'application/json' } : {}),
            ...(auth
              ? { authorization: 'Basic ' + Buffer.from(`${auth.user}:${auth.key}`).toString('base64') }
              : {}),
          },
        },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => (text += c));
          res.on('end', () => {
            let json: unknown = undefined;
            try {
              json = JSON.parse(text);
            } catch {
              // not JSON: callers look at text
            }
            resolvePromise({ status: res.statusCode ?? 0, headers: res.headers, json, text });
          });
        },
      );
      req.on('error', reject);
      req.end(payload);
    });
  }

  /** GET through the proxy entry with `user;tunnel=name[;owner=o]:key` credentials. */
  proxyGet(
    creds: { user: string; key: string; tunnel: string; owner?: string },
    target: string,
  ): Promise<{ status: number; error: string | undefined; retryAfter: string | undefined; body: string }> {
    const [host, port] = splitHostPort(this.info.proxy_address);
    const username = `${creds.user};tunnel=${creds.tunnel}${creds.owner ? `;owner=${creds.owner}` : ''}`;
    return new Promise((resolvePromise, reject) => {
      const req = http.request(
        {
          host,
          port,
          method: 'GET',
          path: target,
          agent: false,
          headers: {
            host: new URL(target).host,
            'proxy-authorization': 'Basic ' + Buffer.from(`${username}:${creds.key}`).toString('base64'),
          },
        },
        (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => (body += c));
          res.on('end', () =>
            resolvePromise({
              status: res.statusCode ?? 0,
              error: res.headers['x-sluice-error'] as string | undefined,
              retryAfter: res.headers['retry-after'],
              body,
            }),
          );
        },
      );
      req.on('error', reject);
      req.end();
    });
  }
}

function splitHostPort(addr: string): [string, number] {
  const i = addr.lastIndexOf(':');
  return [addr.slice(0, i).replace(/^\[|\]$/g, ''), Number(addr.slice(i + 1))];
}

export const ADMIN = { user: 'root', key: 'root-access-key-0001' };

/** Starts sc-server on port 0 in `dataDir` (a fresh temp dir by default) and waits for server.json. */
export async function startServer(
  t: TestContext,
  opts: { dataDir?: string; env?: Record<string, string>; args?: string[] } = {},
): Promise<ServerProc> {
  const dataDir = opts.dataDir ?? (await tempDir(t));
  await rm(join(dataDir, 'server.json'), { force: true });
  const child = spawn(
    process.execPath,
    [
      SERVER_MAIN,
      'start',
      '--data-dir',
      dataDir,
      '--rest-address',
      '127.0.0.1:0',
      '--proxy-address',
      '127.0.0.1:0',
      '--edge-address',
      '127.0.0.1:0',
      ...(opts.args ?? []),
    ],
    {
      env: { ...process.env, SC_ADMIN_USERNAME: ADMIN.user, SC_ADMIN_ACCESS_KEY: ADMIN.key, ...opts.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const early = new Proc(child);
  t.after(() => early.stop('SIGKILL'));
  const text = await waitFor('server.json', async () => {
    if (!early.running) throw new Error(`sc-server exited early:\n${early.output}`);
    return readFile(join(dataDir, 'server.json'), 'utf8').catch(() => undefined);
  });
  const info = JSON.parse(text) as ServerJson;
  const server = new ServerProc(child, dataDir, info, await readFile(info.ca_cert));
  server.output = early.output;
  child.stdout?.removeAllListeners('data');
  child.stderr?.removeAllListeners('data');
  child.stdout?.on('data', (d: Buffer) => (server.output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (server.output += d.toString()));
  return server;
}

export class ClientProc extends Proc {
  /** The local API address from the "API server listening" log line. */
  get apiAddress(): string {
    const m = /API server listening address=(\S+)/.exec(this.output);
    if (!m) throw new Error('sc has not logged its API address');
    return m[1]!;
  }

  /** Requests this client proxied with status 200, from its /metrics. */
  async served(): Promise<number> {
    const text = await new Promise<string>((resolvePromise, reject) => {
      http
        .get(`http://${this.apiAddress}/metrics`, { agent: false }, (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => (body += c));
          res.on('end', () => resolvePromise(body));
        })
        .on('error', reject);
    });
    let n = 0;
    for (const m of text.matchAll(/^sauce_connect_http_requests_total\{([^}]*)\} (\d+)/gm)) {
      if (m[1]!.includes('code="200"')) n += Number(m[2]);
    }
    return n;
  }
}

/** Starts `sc run` against the server and waits for its ready line. */
export async function startClient(
  t: TestContext,
  server: ServerProc,
  o: { user: string; key: string; name: string; pool?: boolean; shared?: boolean; args?: string[] },
): Promise<ClientProc> {
  const child = spawn(
    process.execPath,
    [
      CLIENT_MAIN,
      'run',
      '--username',
      o.user,
      '--access-key',
      o.key,
      '--region',
      'us-west',
      '--tunnel-name',
      o.name,
      '--rest-url',
      server.info.rest_url,
      '--cacert-file',
      server.info.ca_cert,
      '--proxy-localhost',
      'allow',
      '--api-address',
      '127.0.0.1:0',
      ...(o.pool ? ['--tunnel-pool'] : []),
      ...(o.shared ? ['--shared', 'all'] : []),
      ...(o.args ?? []),
    ],
    { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, SAUCE_USERNAME: '', SAUCE_ACCESS_KEY: '' } },
  );
  const client = new ClientProc(child);
  t.after(() => client.stop('SIGKILL'));
  await waitFor(
    `sc ${o.user}/${o.name} ready`,
    () => {
      if (!client.running) throw new Error(`sc exited early (${client.child.exitCode}):\n${client.output}`);
      // The startup line "please wait for 'you may start your tests'..." quotes the ready line: skip it.
      const ready = client.output
        .split('\n')
        .some((l) => l.includes('you may start your tests') && !l.includes('please wait'));
      return ready || undefined;
    },
    30_000,
  );
  return client;
}

/** An HTTP origin on 127.0.0.1 answering every request with `name`, after `delayMs`. */
export async function startOrigin(
  t: TestContext,
  name = 'origin',
  delayMs = 0,
): Promise<{ url: string; hits: number }> {
  const state = { url: '', hits: 0 };
  const srv = http.createServer((_req, res) => {
    state.hits++;
    if (delayMs > 0) setTimeout(() => res.end(name), delayMs);
    else res.end(name);
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  t.after(
    () =>
      new Promise<void>((r) => {
        srv.closeAllConnections();
        srv.close(() => r());
      }),
  );
  state.url = `http://127.0.0.1:${(srv.address() as AddressInfo).port}/`;
  return state;
}
