/**
 * The inspector's page in a real Chromium (Debian's chromium and chromium-driver). Two network namespaces with no
 * route out (test/browser/netns.ts): `cloud` holds sc-server and curl, the "browser" whose requests go through
 * the tunnel; `priv` holds the app, sc and the Chromium that opens sc's inspector on priv's loopback. The page
 * lists the requests, opens one from the keyboard with its masked headers and its body, filters the list, and
 * shows a request made while it is open. Screenshots go to test-output/inspector/.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { after, test } from 'node:test';
import { cleanup, CLIENT_MAIN, randomKey, ROOT, SERVER_MAIN, tempDir, testCa } from '../../kit/index.js';
import { makeNamespaces, NsProcess, runIn, serverInfo } from '../netns.js';

after(cleanup);

const FIXTURES = resolve(import.meta.dirname, '../fixtures');
const OUTPUT = join(ROOT, 'test-output', 'inspector');
const CHROMEDRIVER_PORT = 9515; // inside the priv namespace, which is ours alone
const COOKIE_SECRET = 'PAGE-COOKIE-SECRET-1234';

test('the inspector page: live list, detail from the keyboard with masked headers, filter', async () => {
  for (const tool of ['chromium', 'chromedriver', 'ip', 'curl']) {
    try {
      execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
    } catch {
      throw new Error(`${tool} is missing: run scripts/setup-debian.sh (as root) first`);
    }
  }
  const ns = makeNamespaces();
  const dir = await tempDir('sluice-insp-');
  const data = join(dir, 'data');
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
      '--rest-address',
      '0.0.0.0:0',
      '--edge-address',
      '0.0.0.0:0',
      '--proxy-address',
      '127.0.0.1:0',
      '--public-host',
      ns.cloudAddr,
    ],
    { ...process.env, SC_ADMIN_USERNAME: 'admin', SC_ADMIN_ACCESS_KEY: adminKey },
  );
  const info = await serverInfo(data, () => server.describe());
  const restPort = info.restPort;
  const proxy = `http://${info.proxy_address}`;

  const ca = await testCa();
  const tlsFile = join(dir, 'app-tls.json');
  await writeFile(tlsFile, JSON.stringify({ certPem: ca.certPem, keyPem: ca.keyPem }));
  const app = new NsProcess('app', ns.priv, process.execPath, [join(FIXTURES, 'app.js'), tlsFile, tlsFile]);
  const appPort = Number((await app.waitForLog(/\{"http":(\d+),/))[1]);

  const sc = new NsProcess('sc', ns.priv, process.execPath, [
    CLIENT_MAIN,
    'run',
    ...['--username', 'admin', '--access-key', adminKey, '--region', 'us-west', '--tunnel-name', 'insp-page'],
    ...['--rest-url', `https://${ns.cloudAddr}:${restPort}/rest/v1`, '--cacert-file', info.ca_cert],
    ...['--proxy-localhost', 'allow', '--tunnel-connections', '2'],
    ...['--api-address', '127.0.0.1:0', '--inspector'],
  ]);
  const apiPort = Number((await sc.waitForLog(/API server listening address="?127\.0\.0\.1:(\d+)/))[1]);
  await sc.waitForLog(/^(?!.*please wait).*you may start your tests/m);

  /** One request through the proxy entry from the cloud side; its status. */
  const browse = async (path: string, extra: string[] = []): Promise<number> => {
    const r = await runIn(ns.cloud, 'curl', [
      ...['-sS', '--max-time', '20', '-o', '/dev/null', '-w', '%{http_code}'],
      ...['-x', proxy, '-U', `admin;tunnel=insp-page:${adminKey}`],
      ...extra,
      `http://127.0.0.1:${path}`,
    ]);
    return Number(r.out.trim());
  };
  assert.equal(await browse(`${appPort}/first`, ['-H', `Cookie: theme=${COOKIE_SECRET}`]), 200);
  assert.equal(await browse(`${appPort}/form`, ['--data', 'a=1']), 200);
  assert.equal(await browse('1/nothing-listens'), 502);

  await mkdir(OUTPUT, { recursive: true });
  const chromedriver = new NsProcess('chromedriver', ns.priv, 'chromedriver', [
    `--port=${CHROMEDRIVER_PORT}`,
    '--allowed-ips=127.0.0.1',
  ]);
  await chromedriver.waitForLog(/started successfully/);
  const profile = join(dir, 'profile');
  await mkdir(profile);
  const page = new NsProcess('inspector page client', ns.priv, process.execPath, [
    join(FIXTURES, 'inspector-page-client.js'),
    JSON.stringify({
      server: `http://127.0.0.1:${CHROMEDRIVER_PORT}`,
      caps: {
        browserName: 'chrome',
        'goog:chromeOptions': {
          binary: '/usr/bin/chromium',
          args: [
            ...['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run'],
            ...['--disable-background-networking', '--disable-component-update', '--disable-sync'],
            ...['--disable-dev-shm-usage', `--user-data-dir=${profile}`, '--window-size=1280,900'],
          ],
        },
      },
      url: `http://127.0.0.1:${apiPort}/inspector/`,
      expect: 3,
      screenshots: OUTPUT,
    }),
  ]);
  await page.waitForLog(/^READY$|^RESULT /m, 60_000);
  if (/^READY$/m.test(page.logs())) assert.equal(await browse(`${appPort}/while-open`), 200);
  const line = await page.waitForLog(/^RESULT (.*)$/m, 60_000);
  const r = JSON.parse(line[1]!) as {
    error?: string;
    message?: string;
    urls: string[];
    detail: {
      title: string;
      focused: string;
      facts: string;
      requestHeaders: string[][];
      responseHeaders: string[][];
      responseBody: string;
    };
    filtered: number;
    live: string;
    label: string;
  };
  assert.equal(r.error, undefined, `${r.message}\n${page.describe()}`);
  assert.deepEqual(r.urls, [
    'http://127.0.0.1:1/nothing-listens',
    `http://127.0.0.1:${appPort}/form`,
    `http://127.0.0.1:${appPort}/first`,
  ]);
  assert.equal(r.detail.title, `Request 1: GET http://127.0.0.1:${appPort}/first`);
  assert.equal(r.detail.focused, 'detail-title', 'the detail takes the focus');
  assert.match(r.detail.facts, /Status200 OK/);
  assert.deepEqual(
    r.detail.requestHeaders.find(([n]) => n!.toLowerCase() === 'cookie'),
    ['Cookie', 'theme=****'],
  );
  assert.ok(r.detail.responseHeaders.some(([n]) => n!.toLowerCase() === 'content-type'));
  assert.match(r.detail.responseBody, /Private app over http/);
  assert.equal(r.filtered, 1, 'the filter "502" leaves the failed request');
  assert.equal(r.live, `http://127.0.0.1:${appPort}/while-open`);
  assert.match(r.label, /Filter/);
  assert.ok(!JSON.stringify(r).includes(COOKIE_SECRET));
});
