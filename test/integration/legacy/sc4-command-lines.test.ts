/**
 * `sc legacy` with SC4 command lines as CI recipes write them (Travis/Jenkins: flags; GitHub Actions: env for
 * the credentials), against a real sc-server: the script waits for the readyfile with a shell loop, then a
 * request goes through the tunnel; obsolete flags warn, impossible ones stop sc with exit 2 and change nothing.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import {
  cleanup,
  closedPort,
  listTunnelsFull,
  proxyGet,
  shellWaitForFile,
  startClient,
  startHttpApp,
  startLegacy,
  startServer,
  tempDir,
  waitFor,
  type Origin,
  type TestServer,
} from '../../kit/index.js';

after(cleanup);

let server: TestServer;
let app: Origin;
let dir: string;
before(async () => {
  server = await startServer();
  app = await startHttpApp();
  dir = await tempDir('sluice-legacy-');
});

test('Travis/Jenkins style: -u -k -i -f -d --se-port -t; the shell loop sees the readyfile, then traffic flows', async () => {
  const ready = join(dir, 'travis.ready');
  const pid = join(dir, 'travis.pid');
  writeFileSync(ready, 'stale from a previous build'); // must not let the loop pass early
  const sc = startLegacy([
    '-u',
    server.admin.username,
    '-k',
    server.admin.accessKey,
    '-x',
    server.restUrl,
    '--cainfo',
    server.caCert,
    '-i',
    'travis-job-17',
    '-f',
    ready,
    '-d',
    pid,
    '--se-port',
    '4445',
    '--vm-version',
    'dev-varnish',
    '-t',
    '127.0.0.1,*.internal.test',
    '--status-address',
    '127.0.0.1:0',
  ]);
  // The pidfile is written once the options are valid, after the stale readyfile was removed.
  await waitFor(
    'the pidfile',
    () => existsSync(pid),
    20_000,
    () => sc.describe(),
  );
  assert.equal(readFileSync(pid, 'utf8'), `${sc.proc.pid}\n`);
  assert.equal(existsSync(ready) && readFileSync(ready, 'utf8') !== '', false, 'the stale readyfile is gone');

  await shellWaitForFile(ready, 20_000, () => sc.describe());
  assert.equal(readFileSync(ready, 'utf8'), '', 'an empty readyfile, as SC4 touched it');
  assert.match(sc.logs(), /you may start your tests/);
  assert.match(sc.logs(), /-P\/--se-port is ignored: the Selenium relay is gone/);
  assert.match(sc.logs(), /--vm-version is ignored/);

  const r = await proxyGet(
    server,
    { ...server.admin, tunnel: 'travis-job-17' },
    `${app.url}/echo?through=legacy`,
  );
  assert.equal(r.status, 200, r.body);
  assert.ok(app.requests.some((q) => q.url.includes('through=legacy')));

  const tunnels = await listTunnelsFull(server, server.admin);
  const t = tunnels.find((x) => x['tunnel_identifier'] === 'travis-job-17');
  assert.ok(t, JSON.stringify(tunnels));
  assert.deepEqual(t['tunnel_domains'], ['^127\\.0\\.0\\.1$', '^.*\\.internal\\.test$']);

  const exit = await sc.stop('SIGTERM');
  assert.equal(exit.code, 0, sc.describe());
  assert.equal(existsSync(ready), false, 'readyfile removed at exit');
  assert.equal(existsSync(pid), false, 'pidfile removed at exit');
});

test('GitHub Actions style: credentials in SAUCE_* env, no -i: the documented default name, logged', async () => {
  const ready = join(dir, 'gha.ready');
  const sc = startLegacy(
    ['-x', server.restUrl, '--cainfo', server.caCert, '--readyfile', ready, '--no-autodetect', '-v'],
    { SAUCE_USERNAME: server.admin.username, SAUCE_ACCESS_KEY: server.admin.accessKey },
  );
  await shellWaitForFile(ready, 20_000, () => sc.describe());
  assert.match(sc.logs(), /no -i\/--tunnel-identifier: the tunnel is named \\?"legacy-default\\?"/);
  const r = await proxyGet(server, { ...server.admin, tunnel: 'legacy-default' }, `${app.url}/echo?gha=1`);
  assert.equal(r.status, 200, r.body);
  const exit = await sc.stop('SIGINT');
  assert.equal(exit.code, 0, sc.describe());
  assert.equal(existsSync(ready), false);
});

test('flags that cannot be honoured exit 2 naming the flag, write no pidfile and create no tunnel', async () => {
  const before = (await listTunnelsFull(server, server.admin)).length;
  const pid = join(dir, 'refused.pid');
  const common = ['-u', server.admin.username, '-k', server.admin.accessKey, '-x', server.restUrl, '-d', pid];
  const cases: [string[], RegExp][] = [
    [['--doctor'], /--doctor cannot be honoured/],
    [['--capath', dir], /--capath cannot be honoured/],
    [['-F', 'ads\\.test/banner'], /--fast-fail-regexps.*URL paths/],
    [['-t', 'bad pattern'], /invalid -t\/--tunnel-domains/],
    [['--frobnicate'], /unknown SC4 flag --frobnicate/],
  ];
  for (const [extra, re] of cases) {
    const sc = startLegacy([...common, '--cainfo', server.caCert, ...extra]);
    const exit = await sc.waitExit();
    assert.equal(exit.code, 2, sc.describe());
    assert.match(sc.logs(), re);
    assert.doesNotMatch(sc.logs(), /internal error|\n\s+at /, 'no stack trace');
    assert.ok(!sc.logs().includes(server.admin.accessKey), 'the key is not echoed');
    assert.equal(existsSync(pid), false);
  }
  // A bad value reaches sc run's own parser, which names the SC5 flag it became.
  const bad = startLegacy([...common, '--cainfo', server.caCert, '--status-address', 'not-an-address']);
  assert.equal((await bad.waitExit()).code, 2);
  assert.match(bad.logs(), /--api-address/);
  assert.equal((await listTunnelsFull(server, server.admin)).length, before);
});

test('the readyfile never appears while the tunnel is not up; the pidfile is there meanwhile', async () => {
  const ready = join(dir, 'down.ready');
  const pid = join(dir, 'down.pid');
  const port = await closedPort();
  // SAUCE_* env still applies under sc legacy: a short start timeout keeps the test quick.
  const sc = startLegacy(
    [
      '-u',
      'nobody',
      '-k',
      'some-key-value',
      '-x',
      `https://127.0.0.1:${port}/rest/v1`,
      '-i',
      'never-up',
      '-f',
      ready,
      '-d',
      pid,
    ],
    { SAUCE_START_TIMEOUT: '3s' },
  );
  await waitFor(
    'the pidfile',
    () => existsSync(pid),
    20_000,
    () => sc.describe(),
  );
  // sc retries the unreachable server until its start timeout, then exits 4 (docs/errors.md).
  const exit = await sc.waitExit(30_000);
  assert.equal(exit.code, 4, sc.describe());
  assert.equal(existsSync(ready), false);
  assert.equal(existsSync(pid), false, 'pidfile removed at exit');
});

test('an SC4 config file runs the tunnel; --output-config-file writes an sc run config that runs it too', async () => {
  const sc4 = join(dir, 'sc4.yaml');
  writeFileSync(
    sc4,
    [
      `user: ${server.admin.username}`,
      `api-key: ${server.admin.accessKey}`,
      `rest-url: ${server.restUrl}`,
      `cainfo: ${server.caCert}`,
      'tunnel-identifier: from-sc4-config',
      'tunnel-domains: ["127.0.0.1"]',
      'se-port: 4445',
    ].join('\n'),
  );
  const ready = join(dir, 'config.ready');
  const sc = startLegacy(['-c', sc4, '-f', ready]);
  await shellWaitForFile(ready, 20_000, () => sc.describe());
  const r = await proxyGet(server, { ...server.admin, tunnel: 'from-sc4-config' }, `${app.url}/echo?cfg=1`);
  assert.equal(r.status, 200, r.body);
  assert.equal((await sc.stop('SIGTERM')).code, 0, sc.describe());

  const out = join(dir, 'sc5.yaml');
  const write = startLegacy(['-c', sc4, '-i', 'migrated', '--output-config-file', out]);
  assert.equal((await write.waitExit()).code, 0, write.describe());
  assert.match(write.logs(), /wrote .*sc5\.yaml/);
  assert.ok(
    !(await listTunnelsFull(server, server.admin)).some((t) => t['tunnel_identifier'] === 'migrated'),
    'writing the config starts no tunnel',
  );
  assert.match(readFileSync(out, 'utf8'), /^# note: -P\/--se-port is ignored/m);
  const run = await startClient(server, {
    tunnelName: 'migrated',
    bare: true,
    args: ['-c', out, '--api-address', '127.0.0.1:0'],
  });
  assert.match(run.logs(), /tunnel-name=migrated/);
  const r2 = await proxyGet(server, { ...server.admin, tunnel: 'migrated' }, `${app.url}/echo?cfg=2`);
  assert.equal(r2.status, 200, r2.body);
});
