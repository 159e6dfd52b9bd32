/**
 * The WebDriver gateway end to end with real Chromium (Debian's chromium and chromium-driver, installed by
 * scripts/setup-debian.sh). Two network namespaces: `priv` holds the private app (127.0.0.1 only) and `sc`;
 * `cloud` holds sc-server, chromedriver and the browser. Only the tunnel joins them, so a page title read from
 * http://localhost:<port> proves the browser went through the gateway's proxy port, the tunnel and sc.
 * Selenium and WebdriverIO run as users run them, as child processes in `cloud`.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFile, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { spkiHash } from '../../src/server/gateway/resign-key.js';
import {
  cleanup,
  CLIENT_MAIN,
  randomKey,
  ROOT,
  SERVER_MAIN,
  tempDir,
  testCa,
  startPostgres,
  waitFor,
} from '../kit/index.js';
import { makeNamespaces, NsProcess, runIn, serverInfo, type Namespaces } from './netns.js';

after(cleanup);

const FIXTURES = resolve(import.meta.dirname, 'fixtures');
const OUTPUT = join(ROOT, 'test-output', 'gateway');
const CHROMEDRIVER_PORT = 9515; // inside the cloud namespace, which is ours alone

interface Env {
  ns: Namespaces;
  dir: string;
  data: string;
  /** The PostgreSQL store both server nodes share (the embedded one serves one process). */
  store: string;
  caCert: string;
  restPort: number;
  server: NsProcess;
  keys: Record<string, string>;
  app: { http: number; https: number; untrusted: number };
  tunnels: Record<string, string>;
  sc: (user: string, tunnel: string, extra: string[]) => NsProcess;
}
let env: Env;

const BROWSER_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-dev-shm-usage',
];

async function chromeCaps(extra: Record<string, unknown>, tag: string): Promise<Record<string, unknown>> {
  const profile = join(env.dir, `profile-${tag}`);
  await mkdir(profile, { recursive: true });
  return {
    browserName: 'chrome',
    'goog:chromeOptions': {
      binary: '/usr/bin/chromium',
      args: [...BROWSER_ARGS, `--user-data-dir=${profile}`],
    },
    ...extra,
  };
}

function clientEnv(): Record<string, string | undefined> {
  return { ...process.env, NODE_EXTRA_CA_CERTS: env.caCert };
}

async function runClient(script: string, cfg: unknown): Promise<Record<string, unknown>> {
  const r = await runIn(
    env.ns.cloud,
    process.execPath,
    [join(FIXTURES, script), JSON.stringify(cfg)],
    clientEnv(),
    90_000,
  );
  const line = /^RESULT (.*)$/m.exec(r.out);
  assert.ok(line, `${script} printed no RESULT (exit ${r.code}):\n${r.out}\n${env.server.describe()}`);
  return JSON.parse(line[1]!) as Record<string, unknown>;
}

const selenium = async (
  user: string,
  sauce: Record<string, unknown>,
  url: string,
  screenshot?: string,
): Promise<Record<string, unknown>> =>
  runClient('selenium-client.js', {
    server: `https://${user}:${env.keys[user]}@127.0.0.1:${env.restPort}/wd/hub`,
    caps: await chromeCaps({ 'sauce:options': sauce }, `${user}-${Date.now()}`),
    url,
    screenshot,
  });

/** curl inside the cloud namespace; the JSON body. */
async function curlJson(args: string[]): Promise<unknown> {
  const r = await runIn(env.ns.cloud, 'curl', ['-sS', '--max-time', '20', '--cacert', env.caCert, ...args]);
  assert.equal(r.code, 0, r.out);
  return JSON.parse(r.out) as unknown;
}

/** A W3C answer: the session, or an error. */
interface W3cReply {
  value: { error: string; message: string; sessionId?: string };
}

const gatewayUrl = (path = ''): string => `https://127.0.0.1:${env.restPort}/wd/hub${path}`;

async function newSessionRaw(body: unknown, user?: string): Promise<{ status: number; json: W3cReply }> {
  const auth = user ? ['-u', `${user}:${env.keys[user]}`] : [];
  const r = await runIn(env.ns.cloud, 'curl', [
    '-sS',
    '--max-time',
    '30',
    '--cacert',
    env.caCert,
    ...auth,
    '-w',
    '\n%{http_code}',
    '-H',
    'content-type: application/json',
    '-d',
    typeof body === 'string' ? body : JSON.stringify(body),
    gatewayUrl('/session'),
  ]);
  const nl = r.out.lastIndexOf('\n');
  return { status: Number(r.out.slice(nl + 1)), json: JSON.parse(r.out.slice(0, nl)) as W3cReply };
}

const upstreamSessions = async (): Promise<unknown[]> =>
  ((await curlJson([`http://127.0.0.1:${CHROMEDRIVER_PORT}/sessions`])) as { value: unknown[] }).value;

const numJobs = async (user: string, tunnel: string): Promise<number> =>
  (
    (await curlJson([
      '-u',
      `${user}:${env.keys[user]}`,
      `https://127.0.0.1:${env.restPort}/rest/v1/${user}/tunnels/${env.tunnels[tunnel]}/num_jobs`,
    ])) as { jobs_running: number }
  ).jobs_running;

function admin(args: string[]): string {
  return execFileSync(
    process.execPath,
    [SERVER_MAIN, 'admin', ...args, '--data-dir', env.data, '--store', env.store, '--json'],
    { encoding: 'utf8' },
  );
}

before(async () => {
  for (const tool of ['chromium', 'chromedriver', 'ip', 'curl']) {
    try {
      execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
    } catch {
      throw new Error(`${tool} is missing: run scripts/setup-debian.sh (as root) first`);
    }
  }
  const ns = makeNamespaces();
  const dir = await tempDir('sluice-gw-');
  const data = join(dir, 'data');
  // Through its Unix socket: the servers run in the cloud namespace, PostgreSQL in ours.
  const pg = await startPostgres();
  const store = pg.socketUrl(await pg.newDatabase('gateway'));
  const ca = await testCa();
  const tlsFile = join(dir, 'app-tls.json');
  await writeFile(tlsFile, JSON.stringify({ certPem: ca.certPem, keyPem: ca.keyPem }));
  // sc verifies the app's certificate itself when the server resigns the browser's TLS (the default).
  const appCaFile = join(dir, 'app-ca.pem');
  await writeFile(appCaFile, ca.caPem);
  const chromedriver = new NsProcess('chromedriver', ns.cloud, 'chromedriver', [
    `--port=${CHROMEDRIVER_PORT}`,
    '--allowed-ips=127.0.0.1',
  ]);
  await chromedriver.waitForLog(/started successfully/);
  const adminKey = randomKey();
  const server = new NsProcess(
    'sc-server',
    ns.cloud,
    process.execPath,
    [
      SERVER_MAIN,
      'start',
      '--data-dir',
      data,
      '--store',
      store,
      '--rest-address',
      '0.0.0.0:0',
      '--edge-address',
      '0.0.0.0:0',
      '--proxy-address',
      '127.0.0.1:0',
      '--public-host',
      ns.cloudAddr,
      '--webdriver-upstream',
      `http://127.0.0.1:${CHROMEDRIVER_PORT}`,
      // The private app's own key too, for CONNECTs that are not resigned (resigned ones show the resigning key).
      '--webdriver-trust-spki',
      spkiHash(ca.certPem),
      '--webdriver-new-session-timeout',
      '15s',
      '--webdriver-proxy-ports',
      '8',
      '--webdriver-idle-timeout',
      '8s',
    ],
    { ...process.env, SC_ADMIN_USERNAME: 'admin', SC_ADMIN_ACCESS_KEY: adminKey },
  );
  const info = await serverInfo(data, () => server.describe());
  const restPort = info.restPort;
  env = {
    ns,
    dir,
    data,
    store,
    caCert: info.ca_cert,
    restPort,
    server,
    keys: {},
    app: { http: 0, https: 0, untrusted: 0 },
    tunnels: {},
    sc: () => server,
  };
  admin(['teams', 'create', 'qa']);
  admin(['teams', 'create', 'other']);
  // alice is qa's team admin: by default (the seed's rule) only admins' --shared all tunnels serve others.
  for (const [user, team, role] of [
    ['alice', 'qa', 'team_admin'],
    ['bob', 'qa', 'team_member'],
    ['carol', 'other', 'team_member'],
  ] as const) {
    const out = JSON.parse(admin(['users', 'create', user, '--team', team, '--role', role])) as {
      access_key: string;
    };
    env.keys[user] = out.access_key;
  }
  // The untrusted certificate: sc-server's own, valid for localhost but from a CA the browser does not know.
  const untrustedFile = join(dir, 'app-untrusted-tls.json');
  await writeFile(
    untrustedFile,
    JSON.stringify({
      certPem: await readFile(join(data, 'server.pem'), 'utf8'),
      keyPem: await readFile(join(data, 'server-key.pem'), 'utf8'),
    }),
  );
  const app = new NsProcess('app', ns.priv, process.execPath, [
    join(FIXTURES, 'app.js'),
    tlsFile,
    untrustedFile,
  ]);
  const ports = await app.waitForLog(/\{"http":(\d+),"https":(\d+),"untrusted":(\d+)\}/);
  env.app = { http: Number(ports[1]), https: Number(ports[2]), untrusted: Number(ports[3]) };
  const sc = (user: string, tunnel: string, extra: string[]): NsProcess =>
    new NsProcess(`sc ${tunnel}`, ns.priv, process.execPath, [
      CLIENT_MAIN,
      'run',
      '--username',
      user,
      '--access-key',
      env.keys[user]!,
      '--region',
      'us-west',
      '--tunnel-name',
      tunnel,
      '--rest-url',
      `https://${ns.cloudAddr}:${restPort}/rest/v1`,
      '--cacert-file',
      info.ca_cert,
      '--proxy-localhost',
      'allow',
      '--cacert-file',
      appCaFile,
      '--tunnel-connections',
      '2',
      ...extra,
    ]);
  env.sc = sc;
  const clients = [sc('alice', 'alice-app', ['--shared', 'all']), sc('carol', 'carol-app', [])];
  for (const c of clients) await c.waitForLog(/^(?!.*please wait).*you may start your tests/m);
  for (const [user, tunnel] of [
    ['alice', 'alice-app'],
    ['carol', 'carol-app'],
  ] as const) {
    await tunnelId(user, tunnel);
  }
  await mkdir(OUTPUT, { recursive: true });
});

async function tunnelId(user: string, tunnel: string): Promise<string> {
  {
    const ids = (await curlJson([
      '-u',
      `${user}:${env.keys[user]}`,
      `https://127.0.0.1:${env.restPort}/rest/v1/${user}/tunnels?full=true`,
    ])) as { id: string; tunnel_identifier: string }[];
    const t = ids.find((x) => x.tunnel_identifier === tunnel);
    assert.ok(t, `no tunnel ${tunnel} of ${user}: ${JSON.stringify(ids)}`);
    env.tunnels[tunnel] = t.id;
    return t.id;
  }
}

describe('WebDriver gateway with real Chromium', () => {
  it('selenium-webdriver reaches the private app over http://localhost through its tunnel; screenshot saved', async () => {
    const shot = join(OUTPUT, 'selenium-private-page.png');
    const r = await selenium('alice', { tunnelName: 'alice-app' }, `http://localhost:${env.app.http}/`, shot);
    assert.equal(r['title'], 'Private app over http', JSON.stringify(r));
    const png = await readFile(shot);
    assert.ok(
      png.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])),
      'a PNG',
    );
    assert.ok((await stat(shot)).size > 1000);
    // quit() ended it: no binding, no upstream session.
    assert.equal(await numJobs('alice', 'alice-app'), 0);
    assert.deepEqual(await upstreamSessions(), []);
  });

  it('selenium-webdriver over https://localhost, resigned: the leaf is accepted by its key (SPKI), not by ignoring errors', async () => {
    const r = await selenium(
      'alice',
      { tunnelIdentifier: 'alice-app' },
      `https://localhost:${env.app.https}/`,
    );
    assert.equal(r['title'], 'Private app over https', JSON.stringify(r));
  });

  it('webdriverio with its defaults (BiDi): the webSocketUrl is the gateway, and the title comes back', async () => {
    const r = await runClient('wdio-client.js', {
      hostname: '127.0.0.1',
      port: env.restPort,
      user: 'alice',
      key: env.keys['alice'],
      caps: await chromeCaps({ 'sauce:options': { tunnelName: 'alice-app' } }, 'wdio'),
      url: `http://localhost:${env.app.http}/`,
    });
    assert.equal(r['title'], 'Private app over http', JSON.stringify(r));
    assert.match(
      String(r['webSocketUrl']),
      new RegExp(`^wss://127\\.0\\.0\\.1:${env.restPort}/wd/hub/session/[0-9a-f]{32}/se/bidi$`),
    );
    assert.equal(r['bidi'], true);
    assert.deepEqual(await upstreamSessions(), []);
  });

  it("a shared tunnel through tunnelOwner: bob uses alice's tunnel, credentials in sauce:options", async () => {
    const r = await runClient('wdio-client.js', {
      hostname: '127.0.0.1',
      port: env.restPort,
      caps: await chromeCaps(
        {
          'sauce:options': {
            username: 'bob',
            accessKey: env.keys['bob'],
            tunnelName: 'alice-app',
            tunnelOwner: 'alice',
          },
        },
        'bob',
      ),
      url: `http://localhost:${env.app.http}/`,
    });
    assert.equal(r['title'], 'Private app over http', JSON.stringify(r));
  });

  it("another user's unshared tunnel is refused with session not created, and nothing is started", async () => {
    const r = await selenium(
      'bob',
      { tunnelName: 'carol-app', parentTunnel: 'carol' },
      `http://localhost:${env.app.http}/`,
    );
    assert.equal(r['error'], 'SessionNotCreatedError', JSON.stringify(r));
    assert.match(String(r['message']), /no running tunnel named carol-app for user carol/);
    assert.deepEqual(await upstreamSessions(), []);
    assert.equal(await numJobs('carol', 'carol-app'), 0);
  });
});

describe('WebDriver gateway: bad input gets a W3C error and leaves nothing behind', () => {
  const caps = (sauce: unknown): unknown => ({
    capabilities: { alwaysMatch: { browserName: 'chrome', 'sauce:options': sauce } },
  });

  it('no credentials', async () => {
    const r = await newSessionRaw(caps({ tunnelName: 'alice-app' }));
    assert.equal(r.status, 500);
    assert.equal(r.json.value.error, 'session not created');
    assert.match(r.json.value.message, /no credentials/);
  });

  it('wrong access key', async () => {
    const r = await newSessionRaw(
      caps({ username: 'alice', accessKey: 'wrong-key', tunnelName: 'alice-app' }),
    );
    assert.equal(r.json.value.error, 'session not created');
    assert.match(r.json.value.message, /authentication failed for user alice/);
    assert.doesNotMatch(JSON.stringify(r.json), /wrong-key/);
  });

  it('unknown tunnel', async () => {
    const r = await newSessionRaw(caps({ tunnelName: 'nope' }), 'alice');
    assert.equal(r.json.value.error, 'session not created');
    assert.equal(r.json.value.message, 'no running tunnel named nope for user alice');
  });

  it('malformed capabilities', async () => {
    for (const [body, re] of [
      ['{not json', /not valid JSON/],
      [{ desiredCapabilities: {} }, /expected \{"capabilities"/],
      [{ capabilities: { firstMatch: [] } }, /firstMatch must be a non-empty array/],
      [caps({ tunnelName: 42 }), /tunnelName must be a tunnel name/],
      [
        {
          capabilities: {
            alwaysMatch: { 'sauce:options': { tunnelName: 'alice-app' }, proxy: { proxyType: 'direct' } },
          },
        },
        /proxy capability cannot be combined with tunnelName/,
      ],
    ] as const) {
      const r = await newSessionRaw(body, 'alice');
      assert.equal(r.status, 400, JSON.stringify(r.json));
      assert.equal(r.json.value.error, 'invalid argument');
      assert.match(r.json.value.message, re);
    }
  });

  it('a browser that would not start: the upstream error is relayed, the binding removed', async () => {
    const r = await newSessionRaw(
      {
        capabilities: {
          alwaysMatch: {
            browserName: 'chrome',
            'goog:chromeOptions': { binary: '/nonexistent/chromium', args: BROWSER_ARGS },
            'sauce:options': { tunnelName: 'alice-app' },
          },
        },
      },
      'alice',
    );
    assert.equal(r.json.value.error, 'session not created', JSON.stringify(r.json));
    assert.match(r.json.value.message, /^upstream: /);
    assert.equal(await numJobs('alice', 'alice-app'), 0);
  });

  it('a slow upstream: session not created after --webdriver-new-session-timeout, and the late session is deleted', async () => {
    // A real chromedriver whose browser does not start until the test says so, after the gateway's 15 s.
    const slow = join(env.dir, 'slow-chromium.sh');
    const go = join(env.dir, 'slow-chromium.go');
    await writeFile(
      slow,
      `#!/bin/sh\nwhile [ ! -e ${go} ]; do sleep 0.1; done\nexec /usr/bin/chromium "$@"\n`,
      {
        mode: 0o755,
      },
    );
    const profile = join(env.dir, 'profile-slow');
    await mkdir(profile, { recursive: true });
    const r = await newSessionRaw(
      {
        capabilities: {
          alwaysMatch: {
            browserName: 'chrome',
            'goog:chromeOptions': { binary: slow, args: [...BROWSER_ARGS, `--user-data-dir=${profile}`] },
            'sauce:options': { tunnelName: 'alice-app' },
          },
        },
      },
      'alice',
    );
    assert.equal(r.json.value.error, 'session not created', JSON.stringify(r.json));
    assert.match(r.json.value.message, /did not create the session within 15s/);
    assert.equal(await numJobs('alice', 'alice-app'), 0);
    await writeFile(go, '');
    // chromedriver finishes starting the browser later; the gateway deletes that session as soon as it appears.
    await env.server.waitForLog(/upstream session deleted.*created after the gateway gave up/, 60_000);
    await waitFor(
      'chromedriver to list no session',
      async () => (await upstreamSessions()).length === 0,
      20_000,
    );
  });

  it('an unknown session id and DELETE of it', async () => {
    const r = await curlJson(['-X', 'DELETE', gatewayUrl('/session/0123456789abcdef0123456789abcdef')]);
    assert.equal((r as W3cReply).value.error, 'invalid session id');
  });
});

describe('WebDriver gateway: a session on a tunnel', () => {
  const start = async (tunnel: string, tag: string): Promise<string> => {
    const r = await newSessionRaw(
      { capabilities: { alwaysMatch: await chromeCaps({ 'sauce:options': { tunnelName: tunnel } }, tag) } },
      'alice',
    );
    assert.equal(r.status, 200, JSON.stringify(r.json));
    return r.json.value.sessionId!;
  };
  const wd = (method: string, id: string, path: string, body?: unknown): Promise<unknown> =>
    curlJson([
      '-X',
      method,
      ...(body === undefined ? [] : ['-H', 'content-type: application/json', '-d', JSON.stringify(body)]),
      gatewayUrl(`/session/${id}${path}`),
    ]);

  it('num_jobs counts it; after --webdriver-idle-timeout without commands it ends, upstream too', async () => {
    const id = await start('alice-app', 'idle');
    assert.equal(await numJobs('alice', 'alice-app'), 1);
    assert.equal((await upstreamSessions()).length, 1);
    await waitFor(
      'the idle session to end',
      async () => (await numJobs('alice', 'alice-app')) === 0,
      30_000,
      () => env.server.describe(),
    );
    await waitFor(
      'the upstream session to be deleted',
      async () => (await upstreamSessions()).length === 0,
      20_000,
    );
    const after = (await wd('GET', id, '/title')) as W3cReply;
    assert.equal(after.value.error, 'invalid session id');
  });

  it("sc's SIGTERM waits for the tunnel's running session, which still reaches the app, then deletes the tunnel", async () => {
    const sc = env.sc('alice', 'alice-drain', []);
    await sc.waitForLog(/^(?!.*please wait).*you may start your tests/m);
    await tunnelId('alice', 'alice-drain');
    const id = await start('alice-drain', 'drain');
    sc.proc.kill('SIGTERM');
    await sc.waitForLog(/waiting for running jobs/);
    await wd('POST', id, '/url', { url: `http://localhost:${env.app.http}/` });
    const title = (await wd('GET', id, '/title')) as { value: string };
    assert.equal(title.value, 'Private app over http');
    assert.equal(sc.proc.exitCode, null, 'sc still running while the session lives');
    await wd('DELETE', id, '');
    const exit = await sc.exited;
    assert.equal(exit.code, 0, sc.describe());
    assert.match(sc.logs(), /tunnel deleted/);
    assert.deepEqual(await upstreamSessions(), []);
  });

  it('a second server node on the same store relays the session that the first one started', async () => {
    // Its own data dir with the first node's server secret and CA (what nodes share besides the store).
    const data2 = join(env.dir, 'data2');
    await mkdir(data2, { mode: 0o700 });
    for (const f of ['server-secret', 'ca.pem', 'ca-key.pem'])
      await copyFile(join(env.data, f), join(data2, f));
    const second = new NsProcess('sc-server 2', env.ns.cloud, process.execPath, [
      SERVER_MAIN,
      'start',
      '--data-dir',
      data2,
      '--store',
      env.store,
      '--rest-address',
      '127.0.0.1:0',
      '--edge-address',
      '127.0.0.1:0',
      '--proxy-address',
      '127.0.0.1:0',
      '--webdriver-upstream',
      `http://127.0.0.1:${CHROMEDRIVER_PORT}`,
    ]);
    await second.waitForLog(/sc-server listening/);
    const json = JSON.parse(await readFile(join(data2, 'server.json'), 'utf8')) as {
      rest_url: string;
      pid: number;
    };
    assert.equal(json.pid, second.proc.pid);
    const port = Number(/:(\d+)\/rest/.exec(json.rest_url)![1]);
    const id = await start('alice-app', 'two-nodes');
    await wd('POST', id, '/url', { url: `http://localhost:${env.app.http}/` });
    const viaSecond = (method: string, path: string): Promise<unknown> =>
      curlJson(['-X', method, `https://127.0.0.1:${port}/wd/hub/session/${id}${path}`]);
    assert.deepEqual(await viaSecond('GET', '/title'), { value: 'Private app over http' });
    await viaSecond('DELETE', '');
    assert.equal(await numJobs('alice', 'alice-app'), 0);
    assert.deepEqual(await upstreamSessions(), []);
    await second.stop();
  });
});
