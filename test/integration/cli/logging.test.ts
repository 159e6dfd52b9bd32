/**
 * Logging of a real `sc run` process: --log-file reopened on SIGHUP (logrotate), JSON format, --log-http per
 * module, the startup list of changed options, the command-line access-key warning, and no secret anywhere
 * in the logs even at debug level.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import {
  cleanup,
  closedPort,
  proxyRequest,
  startClient,
  startHttpApp,
  startServer,
  tempDir,
  waitFor,
  type Origin,
  type TestServer,
} from '../../kit/index.js';

let server: TestServer;
let app: Origin;

before(async () => {
  app = await startHttpApp();
  server = await startServer();
});
after(cleanup);

test('--log-file: lines go to the file, SIGHUP reopens it after a rotation', async () => {
  const dir = await tempDir('sc-logfile-');
  const log = join(dir, 'sc.log');
  // An unreachable server keeps sc retrying: enough to exercise the log file without a tunnel.
  const c = await startClient(server, {
    tunnelName: 'log-file',
    bare: true,
    waitReady: false,
    waitApi: false,
    args: [
      ...['-u', 'alice', '-k', 'key-for-log-test', '-r', 'us-west', '-i', 'log-file'],
      ...['--rest-url', `https://127.0.0.1:${await closedPort()}/rest/v1`, '--start-timeout', '60s'],
      ...['--log-file', log],
    ],
  });
  await waitFor(
    'the log file',
    () => existsSync(log) && /provisioning tunnel/.test(readFileSync(log, 'utf8')),
    15_000,
    () => c.process.describe(),
  );
  assert.equal(c.logs(), '', 'nothing on stdout when --log-file is set');
  renameSync(log, log + '.1');
  c.proc.kill('SIGHUP');
  await waitFor(
    'a reopened log file',
    () => existsSync(log) && /log file reopened/.test(readFileSync(log, 'utf8')),
    15_000,
  );
  assert.ok(c.process.running, 'SIGHUP does not stop sc');
  const rotated = readFileSync(log + '.1', 'utf8');
  assert.match(rotated, /\[control\] \[INFO\] options /);
  assert.doesNotMatch(rotated, /key-for-log-test/);
  await c.kill();
});

test('JSON logs, startup options, access-key warning, --log-http, no secrets at debug level', async () => {
  const key = server.admin.accessKey;
  // JSON lines and basic auth on the API: wait for the API address and the ready line here, not in the kit.
  const c = await startClient(server, {
    tunnelName: 'log-json',
    waitApi: false,
    waitReady: false,
    args: [
      ...['--log-format', 'json', '--log-level', 'debug', '--log-http', 'proxy:headers,api:url'],
      ...['--api-basic-auth', 'ci:api-pass-9876'],
    ],
  });
  const m = await c.waitForLog(/"msg":"API server listening","address":"127\.0\.0\.1:(\d+)"/);
  c.apiUrl = `http://127.0.0.1:${m[1]}`;
  await c.waitForLog(/"msg":"[^"]*you may start your tests"/);
  const auth = 'Basic ' + Buffer.from('ci:api-pass-9876').toString('base64');
  const ready = await fetch(c.apiUrl + '/readyz?probe=1', { headers: { authorization: auth } });
  assert.equal(ready.status, 200);
  const res = await proxyRequest(
    server,
    { username: server.admin.username, accessKey: key, tunnel: 'log-json' },
    {
      url: `${app.url}/hello?x=1`,
      headers: { authorization: 'Bearer target-token-5555', cookie: 'sid=cookie-7777' },
    },
  );
  assert.equal(res.status, 200);
  await waitFor(
    'proxy request logged',
    () => /GET http:\/\/127\.0\.0\.1:\d+\/hello/.test(c.logs()),
    10_000,
    () => c.logs(),
  );
  await waitFor(
    'api request logged',
    () => /GET \/readyz\?probe=1/.test(c.logs()),
    10_000,
    () => c.logs(),
  );
  await c.stop('SIGINT');

  const lines = c.logs().trim().split('\n');
  const records = lines.map((l) => {
    try {
      return JSON.parse(l) as Record<string, unknown>;
    } catch {
      assert.fail(`not a JSON log line: ${l}`);
    }
  });
  for (const r of records)
    for (const k of ['time', 'level', 'module', 'msg']) assert.ok(k in r, `${k} in ${JSON.stringify(r)}`);
  const opts = records.find((r) => r['msg'] === 'options')!;
  assert.ok(opts, 'startup options line');
  assert.equal(opts['tunnel-name'], 'log-json');
  assert.equal(opts['access-key'], '****');
  assert.equal(opts['api-basic-auth'], 'ci:****');
  assert.equal(opts['log-format'], 'json');
  // Options given on the command line are listed with their values (the kit passes --proxy-localhost allow);
  // options left at their defaults are not.
  assert.equal(opts['proxy-localhost'], 'allow');
  assert.equal(opts['log-level'], 'debug');
  assert.ok(!('api-idle-timeout' in opts), 'defaults are not listed');
  assert.ok(
    records.some(
      (r) => r['level'] === 'warn' && /access key was given on the command line/.test(String(r['msg'])),
    ),
  );
  const text = c.logs();
  for (const secret of [key, 'api-pass-9876', 'target-token-5555', 'cookie-7777'])
    assert.ok(!text.includes(secret), `secret ${secret.slice(0, 4)}... leaked into the logs`);
});

test('no warning when the access key comes from the environment', async () => {
  const c = await startClient(server, {
    tunnelName: 'log-env-key',
    bare: true,
    args: [
      ...['--username', server.admin.username, '--region', 'us-west', '--tunnel-name', 'log-env-key'],
      ...['--rest-url', server.restUrl, '--cacert-file', server.caCert, '--api-address', '127.0.0.1:0'],
    ],
    env: { SAUCE_ACCESS_KEY: server.admin.accessKey },
  });
  await c.stop('SIGTERM');
  assert.doesNotMatch(c.logs(), /access key was given on the command line/);
});
