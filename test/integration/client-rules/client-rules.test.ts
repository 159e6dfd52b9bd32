/**
 * sc's own request rules with real parts: a site behind Basic auth (credentials injected by --auth, a request's own
 * Authorization untouched), --header rules seen by the target on both plain-HTTP paths (spliced, and per request
 * with --proxy-splice false), target names resolved through a DNS server of the test's own (dns_failed for an
 * unknown name, dns_timeout for a silent one), the --http-tls-keylog-file written, and curl through
 * --debug-address. The --auth password never shows in sc's logs or /configz.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, test } from 'node:test';
import {
  apiGet,
  cleanup,
  onCleanup,
  proxyGet,
  startClient,
  startDns,
  startServer,
  tempDir,
  waitFor,
  type TestClient,
  type TestDns,
} from '../../kit/index.js';

after(cleanup);

const PASSWORD = 'S1TE-PASSWORD-SECRET';

/** A site behind Basic auth: 401 without the right credentials; records each request's headers. */
async function authSite(): Promise<{ port: number; seen: http.IncomingHttpHeaders[] }> {
  const seen: http.IncomingHttpHeaders[] = [];
  const want = `Basic ${Buffer.from(`site:${PASSWORD}`).toString('base64')}`;
  const own = `Basic ${Buffer.from('mine:own').toString('base64')}`;
  const srv = http.createServer((req, res) => {
    seen.push(req.headers);
    const a = req.headers.authorization;
    if (a !== want && a !== own) {
      res.writeHead(401, { 'www-authenticate': 'Basic realm="t"' }).end('no');
      return;
    }
    res.writeHead(200, { 'content-type': 'text/plain' }).end(a === want ? 'injected' : 'own');
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  onCleanup(() => new Promise<void>((r) => srv.close(() => r())));
  srv.unref();
  return { port: (srv.address() as AddressInfo).port, seen };
}

let dns: TestDns;
let site: { port: number; seen: http.IncomingHttpHeaders[] };
let keylogDir: string;

async function setup(splice: boolean): Promise<{
  client: TestClient;
  get: (url: string, h?: Record<string, string>) => ReturnType<typeof proxyGet>;
}> {
  dns ??= await startDns({ 'app.test': '127.0.0.1' }, ['silent.test']);
  site ??= await authSite();
  keylogDir ??= await tempDir();
  const server = await startServer({ args: splice ? [] : ['--proxy-splice', 'false'] });
  const name = splice ? 'rules-spliced' : 'rules-per-request';
  const client = await startClient(server, {
    tunnelName: name,
    args: [
      '--auth',
      `site:${PASSWORD}@app.test:*`,
      '--header',
      'X-Added: yes',
      '--header',
      '-X-Drop*',
      '--header',
      'X-Emptied;',
      '--dns-server',
      dns.address,
      '--dns-timeout',
      '300ms',
      '--http-tls-keylog-file',
      join(keylogDir, `${name}.keys`),
      '--debug-address',
      '127.0.0.1:0',
    ],
  });
  const auth = { username: server.admin.username, accessKey: server.admin.accessKey, tunnel: name };
  return { client, get: (url, h) => proxyGet(server, auth, url, { headers: h }) };
}

for (const splice of [true, false]) {
  test(`--auth, --header and --dns-server on the ${splice ? 'spliced' : 'per-request'} path`, async () => {
    const { client, get } = await setup(splice);
    const url = `http://app.test:${site.port}/x`;

    const r = await get(url, { 'X-Drop-Me': '1', 'x-dropped-too': '2', 'X-Keep': 'k', 'X-Emptied': 'full' });
    assert.equal(r.status, 200, r.body);
    assert.equal(r.body, 'injected');
    const h = site.seen.at(-1)!;
    assert.equal(h['x-added'], 'yes');
    assert.equal(h['x-keep'], 'k');
    assert.equal(h['x-emptied'], '');
    assert.equal(h['x-drop-me'], undefined);
    assert.equal(h['x-dropped-too'], undefined);
    assert.ok(dns.queries.includes('app.test'), 'app.test was asked of the test DNS server');

    // A request with its own Authorization keeps it.
    const own = `Basic ${Buffer.from('mine:own').toString('base64')}`;
    const o = await get(url, { Authorization: own });
    assert.equal(o.status, 200, o.body);
    assert.equal(o.body, 'own');
    assert.equal(site.seen.at(-1)!.authorization, own);

    // Names the DNS server does not know, or never answers.
    const nx = await get('http://nowhere.test/');
    assert.equal(nx.status, 502);
    assert.equal(nx.error, 'dns_failed');
    const slow = await get('http://silent.test/');
    assert.equal(slow.status, 504);
    assert.equal(slow.error, 'dns_timeout');

    // The --auth password stays out of the logs and /configz.
    const configz = await apiGet(client.apiUrl, '/configz');
    assert.equal(configz.status, 200);
    assert.match(configz.body, /site:\*\*\*\*@app\.test/);
    assert.doesNotMatch(configz.body, new RegExp(PASSWORD));
    assert.doesNotMatch(client.logs(), new RegExp(PASSWORD));
  });
}

test('--debug-address: curl through sc with the same rules; --http-tls-keylog-file holds the TLS keys', async () => {
  const { client } = await setup(true);
  const m = await client.waitForLog(/debug proxy listening.*?127\.0\.0\.1:(\d+)/);
  const proxy = `http://127.0.0.1:${m[1]}`;
  const curl = (args: string[]): Promise<string> =>
    new Promise((resolve, reject) =>
      execFile('curl', ['-sS', '--max-time', '10', ...args], (err, out) =>
        err ? reject(new Error(err.message)) : resolve(out),
      ),
    );
  const out = await curl([
    '-x',
    proxy,
    '-H',
    'X-Drop-Me: 1',
    '-w',
    '\n%{http_code}',
    `http://app.test:${site.port}/d`,
  ]);
  assert.equal(out, 'injected\n200');
  const h = site.seen.at(-1)!;
  assert.equal(h['x-added'], 'yes');
  assert.equal(h['x-drop-me'], undefined);
  const nx = await curl(['-x', proxy, '-D', '-', '-o', '/dev/null', 'http://nowhere.test/']);
  assert.match(nx, /^HTTP\/1\.1 502/);
  assert.match(nx, /x-sluice-error: dns_failed/i);

  // The tunnel connections' TLS keys (NSS key log: TLS 1.3 secrets, one line each).
  const keys = await waitFor('key log lines', async () => {
    const text = await readFile(join(keylogDir, 'rules-spliced.keys'), 'utf8').catch(() => '');
    return /^CLIENT_HANDSHAKE_TRAFFIC_SECRET [0-9a-f]{64} [0-9a-f]+$/m.test(text) ? text : undefined;
  });
  assert.match(keys, /^CLIENT_TRAFFIC_SECRET_0 /m);
});
