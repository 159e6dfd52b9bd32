/**
 * `npm run demo`: the whole system on this machine, on an embedded store in a temporary data dir.
 *
 *   private app (127.0.0.1, reachable only "inside")  <── sc run ══TLS══>  sc-server  <── curl -x proxy
 *
 * Starts sc-server, a small private app and `sc run`, sends one request through the tunnel, prints what to try by
 * hand, and stays up until Ctrl-C.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const serverBin = join(root, 'src/server/cli/main.js');
const clientBin = join(root, 'src/client/cli/main.js');
const children: ChildProcess[] = [];
const dataDir = mkdtempSync(join(tmpdir(), 'sluice-demo-'));

function run(bin: string, args: string[], env: Record<string, string>, tag: string): ChildProcess {
  const child = spawn(process.execPath, [bin, ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const prefix = (chunk: Buffer): void => {
    for (const line of chunk.toString('utf8').split('\n')) if (line) process.stdout.write(`${tag} ${line}\n`);
  };
  child.stdout?.on('data', prefix);
  child.stderr?.on('data', prefix);
  children.push(child);
  return child;
}

async function waitFor<T>(
  what: string,
  probe: () => T | undefined | Promise<T | undefined>,
  ms = 20_000,
): Promise<T> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const v = await probe();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

function shutdown(code: number): void {
  for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
  setTimeout(() => {
    rmSync(dataDir, { recursive: true, force: true });
    process.exit(code);
  }, 1500).unref();
}

async function main(): Promise<void> {
  const user = 'demo';
  const key = randomBytes(16).toString('hex');
  const app = http.createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end(`Hello from the private app! You asked for ${req.url} (served on 127.0.0.1 behind the tunnel)\n`);
  });
  await new Promise<void>((r) => app.listen(0, '127.0.0.1', r));
  const appPort = (app.address() as AddressInfo).port;

  run(
    serverBin,
    [
      'start',
      '--data-dir',
      dataDir,
      '--rest-address',
      '127.0.0.1:0',
      '--proxy-address',
      '127.0.0.1:0',
      '--edge-address',
      '127.0.0.1:0',
    ],
    { SC_ADMIN_USERNAME: user, SC_ADMIN_ACCESS_KEY: key },
    '[sc-server]',
  );
  const infoPath = join(dataDir, 'server.json');
  const info = await waitFor('server.json', () =>
    existsSync(infoPath)
      ? (JSON.parse(readFileSync(infoPath, 'utf8')) as {
          rest_url: string;
          proxy_address: string;
          ca_cert: string;
        })
      : undefined,
  );

  let ready = false;
  const sc = run(
    clientBin,
    [
      'run',
      '--region',
      'us-west',
      '--tunnel-name',
      'demo',
      '--rest-url',
      info.rest_url,
      '--cacert-file',
      info.ca_cert,
      '--proxy-localhost',
      'allow',
      '--api-address',
      '127.0.0.1:0',
    ],
    { SAUCE_USERNAME: user, SAUCE_ACCESS_KEY: key },
    '[sc]',
  );
  sc.stdout?.on('data', (c: Buffer) => {
    if (c.toString().includes('is up, you may start your tests')) ready = true;
  });
  sc.on('exit', (code) => {
    if (!ready) {
      process.stderr.write(`sc exited early with code ${code}\n`);
      shutdown(1);
    }
  });
  await waitFor('sc to be ready', () => (ready ? true : undefined));

  const target = `http://localhost:${appPort}/hello`;
  const body = await new Promise<string>((resolve, reject) => {
    const [host, port] = info.proxy_address.split(':');
    const req = http.request(
      {
        host,
        port: Number(port),
        path: target,
        headers: {
          'proxy-authorization': 'Basic ' + Buffer.from(`${user};tunnel=demo:${key}`).toString('base64'),
        },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (text += d));
        res.on('end', () => resolve(`${res.statusCode} ${text}`));
      },
    );
    req.on('error', reject);
    req.end();
  });
  const proxyUrl = `http://${user};tunnel=demo:${key}@${info.proxy_address}`;
  process.stdout.write(
    `\n=== Sluice demo is up ===\n` +
      `Through the tunnel: GET ${target}\n  -> ${body}\n` +
      `Try it yourself:\n  curl -x '${proxyUrl}' ${target}\n` +
      `REST API (list tunnels):\n  curl --cacert ${info.ca_cert} -u ${user}:${key} ${info.rest_url}/${user}/tunnels?full=true\n` +
      `Press Ctrl-C to stop.\n\n`,
  );
}

process.on('SIGINT', () => shutdown(0));
process.on('SIGTERM', () => shutdown(0));
main().catch((err: unknown) => {
  process.stderr.write(`demo failed: ${(err as Error).message}\n`);
  shutdown(1);
});
