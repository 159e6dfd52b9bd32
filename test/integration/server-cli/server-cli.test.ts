/**
 * sc-server's command line as a new user meets it (issue 10, point 2 and its stumbles), with real processes:
 * help and version, the config file and env aliases, metrics on their own listener, a data dir that cannot be
 * used, the operator's own certificate reloaded on SIGHUP with the log file, and sc's --rest-url mistakes.
 */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import { join } from 'node:path';
import tls from 'node:tls';
import { after, test } from 'node:test';
import {
  CLIENT_MAIN,
  cleanup,
  ROOT,
  NodeProcess,
  proxyRequest,
  SERVER_MAIN,
  startClient,
  startHttpApp,
  startServer,
  tempDir,
  testCa,
  waitFor,
} from '../../kit/index.js';
import { createCa, issueCertificate } from '../../../src/server/pki/ca.js';
import { VERSION } from '../../../src/version.js';

after(cleanup);

function cleanEnv(extra: Record<string, string> = {}): Record<string, string | undefined> {
  const env: Record<string, string | undefined> = { ...process.env };
  for (const k of Object.keys(env))
    if (k.startsWith('SC_') || k.startsWith('SAUCE_') || k.startsWith('SLUICE_')) delete env[k];
  return { ...env, ...extra };
}

async function run(
  main: string,
  args: string[],
  env = cleanEnv(),
): Promise<{ code: number | null; out: string }> {
  const p = new NodeProcess(main === SERVER_MAIN ? 'sc-server' : 'sc', main, args, env);
  const exit = await p.waitExit();
  return { code: exit.code, out: p.logs() };
}

const noStack = (out: string): void => assert.doesNotMatch(out, /^\s+at /m, `no stack trace:\n${out}`);

test('help and version answer where users look for them', async () => {
  const startHelp = await run(SERVER_MAIN, ['start', '--help']);
  assert.equal(startHelp.code, 0, startHelp.out);
  for (const s of [
    '--data-dir',
    '--tls-cert',
    '--metrics-address',
    '--config-file',
    'SLUICE_SERVER_DATA_DIR',
    'SC_DATA_DIR',
  ])
    assert.ok(startHelp.out.includes(s), `start --help mentions ${s}`);
  assert.equal((await run(SERVER_MAIN, ['start', '-h'])).out, startHelp.out);
  assert.equal((await run(SERVER_MAIN, ['help', 'start'])).out, startHelp.out);
  for (const args of [['--help'], ['-h'], ['help'], []]) {
    const r = await run(SERVER_MAIN, args);
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /sc-server start \[flags\]/);
  }
  for (const args of [['-v'], ['--version'], ['version']]) {
    const r = await run(SERVER_MAIN, args);
    assert.equal(r.code, 0, r.out);
    assert.match(
      r.out,
      new RegExp(`^Version: ${VERSION.replace(/\./g, '\\.')}\nBuild time: .+\nGit commit: [0-9a-f]{40}`),
    );
  }
  const bad = await run(SERVER_MAIN, ['stat']);
  assert.equal(bad.code, 2);
  assert.match(bad.out, /unknown command "stat"/);
  const flag = await run(SERVER_MAIN, ['start', '--data-dri', '/tmp/x']);
  assert.equal(flag.code, 2);
  assert.match(flag.out, /unknown flag --data-dri.*--data-dir/);
});

test('a data dir that cannot be used fails at once with a clear error, exit 2, no stack trace', async () => {
  const dir = await tempDir('sluice-srvcli-');
  const aFile = join(dir, 'a-file');
  writeFileSync(aFile, 'not a directory\n');
  const cases: [string, RegExp][] = [
    [join(aFile, 'data'), new RegExp(`${aFile} is not a directory`)],
    [aFile, /a-file: it is not a directory/],
    ['/proc/sluice-srvcli-test/data', /kernel's proc filesystem/],
    ['/sys/sluice-srvcli-test', /kernel's sysfs filesystem/],
  ];
  for (const [dataDir, re] of cases) {
    const r = await run(SERVER_MAIN, ['start', '--data-dir', dataDir, '--rest-address', '127.0.0.1:0']);
    assert.equal(r.code, 2, r.out);
    assert.match(r.out, re);
    noStack(r.out);
  }
  assert.ok(!existsSync('/proc/sluice-srvcli-test'));
});

test('sc --rest-url mistakes: exit 2, the URL shown, the fix suggested', async () => {
  const base = ['run', '-u', 'a', '-k', 'key-1234', '-r', 'us-west', '-i', 'x', '--rest-url'];
  const cases: [string, RegExp][] = [
    ['notaurl', /invalid value "notaurl" for --rest-url/],
    ['http://127.0.0.1:9/rest/v1', /HTTPS only: use https:\/\/127\.0\.0\.1:9\/rest\/v1/],
    ['https://127.0.0.1:9', /must end in \/rest\/v1.*use https:\/\/127\.0\.0\.1:9\/rest\/v1/],
  ];
  for (const [url, re] of cases) {
    const r = await run(CLIENT_MAIN, [...base, url]);
    assert.equal(r.code, 2, r.out);
    assert.match(r.out, re);
  }
});

test('config file and the older SC_* env names configure the server; metrics only where asked', async () => {
  const dir = await tempDir('sluice-srvcli-');
  const cfg = join(dir, 'server.yaml');
  writeFileSync(cfg, 'metrics-address: 127.0.0.1:0\nqueue-timeout: 3s\nlog-format: json\n');
  const server = await startServer({ args: ['--config-file', cfg], env: { SC_LOG_LEVEL: 'debug' } });
  const lines = server
    .logs()
    .split('\n')
    .filter((l) => l.startsWith('{'));
  assert.ok(lines.length > 0, `log-format json from the config file:\n${server.logs()}`);
  const options = lines
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .find((l) => l['msg'] === 'options');
  assert.ok(options, server.logs());
  assert.equal(options['queue-timeout'], '3s');
  assert.equal(options['log-level'], 'debug', 'SC_LOG_LEVEL still read');
  assert.equal(options['admin-access-key'], '****', 'the admin key (from SC_ADMIN_ACCESS_KEY) is masked');
  assert.ok(!server.logs().includes(server.admin.accessKey), 'the admin key is never logged');
  assert.match(server.info.metrics_address, /^127\.0\.0\.1:\d+$/);
  const metrics = await fetch(`http://${server.info.metrics_address}/metrics`);
  assert.equal(metrics.status, 200);
  const text = await metrics.text();
  assert.match(text, /^sluice_server_live_tunnels 0$/m);
  // docs/server.md documents every metric served (by name, or by a `prefix*` row).
  const doc = readFileSync(join(ROOT, 'docs/server.md'), 'utf8');
  const prefixes = [...doc.matchAll(/`(sluice_server_[a-z_]+)\*`/g)].map((m) => m[1]!);
  const names = [...text.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]!);
  assert.ok(names.length > 20, text);
  for (const name of names)
    assert.ok(
      doc.includes(`\`${name}\``) || prefixes.some((p) => name.startsWith(p)),
      `metric ${name} is documented in docs/server.md`,
    );
  const restMetrics = await restGet(server.restUrl.replace(/\/rest\/v1$/, '/metrics'), server.caPem);
  assert.equal(restMetrics.status, 404, 'no unauthenticated /metrics on the public REST listener by default');
  assert.equal(await server.stop(), 0);
});

function restGet(
  url: string,
  ca: string,
  agent?: https.Agent,
): Promise<{ status: number; body: string; reused: boolean; fingerprint: string }> {
  return new Promise((resolve, reject) => {
    const req = https.get(url, { ca, agent: agent ?? false }, (res) => {
      let body = '';
      const fingerprint = (res.socket as tls.TLSSocket).getPeerCertificate().fingerprint256;
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          body,
          reused: req.reusedSocket,
          fingerprint,
        }),
      );
    });
    req.on('error', reject);
  });
}

/** The certificate a new TLS connection to host:port is given (trusting `ca`, which must verify it). */
function presented(hostPort: string, ca: string): Promise<string> {
  const i = hostPort.lastIndexOf(':');
  return new Promise((resolve, reject) => {
    const s = tls.connect(
      { host: hostPort.slice(0, i), port: Number(hostPort.slice(i + 1)), ca, ALPNProtocols: ['http/1.1'] },
      () => {
        resolve(s.getPeerCertificate().fingerprint256);
        s.end();
      },
    );
    s.on('error', reject);
  });
}

test('--tls-cert/--tls-key: REST and edge present it; SIGHUP reloads it without dropping connections and reopens --log-file; a bad pair keeps the old one', async () => {
  const dir = await tempDir('sluice-srvcli-');
  const first = await testCa();
  const ca2 = await createCa('second operator CA');
  const second = await issueCertificate(ca2, ['localhost', '127.0.0.1']);
  const certPath = join(dir, 'tls.pem');
  const keyPath = join(dir, 'tls-key.pem');
  const logPath = join(dir, 'server.log');
  writeFileSync(certPath, first.certPem);
  writeFileSync(keyPath, first.keyPem);
  const server = await startServer({
    args: ['--tls-cert', certPath, '--tls-key', keyPath, '--log-file', logPath],
  });
  const log = (): string => (existsSync(logPath) ? readFileSync(logPath, 'utf8') : '');
  assert.match(log(), /loaded --tls-cert/);
  assert.equal(server.info.tls_cert, certPath);
  const fp1 = new X509Certificate(first.certPem).fingerprint256;
  const fp2 = new X509Certificate(second.certPem).fingerprint256;
  assert.equal(await presented(new URL(server.restUrl).host, first.caPem), fp1);
  assert.equal(await presented(server.edgeAddress, first.caPem), fp1);

  // sc trusting only the operator's CA (not the server's own) reaches REST and the edge.
  const caFile = join(dir, 'operator-ca.pem');
  writeFileSync(caFile, first.caPem + ca2.certPem);
  const app = await startHttpApp();
  const sc = await startClient(server, {
    tunnelName: 'byo',
    bare: true,
    args: [
      ...['--username', server.admin.username, '--access-key', server.admin.accessKey, '--region', 'us-west'],
      ...['--tunnel-name', 'byo', '--rest-url', server.restUrl, '--cacert-file', caFile],
      ...['--proxy-localhost', 'allow', '--api-address', '127.0.0.1:0'],
    ],
  });
  const auth = { username: server.admin.username, accessKey: server.admin.accessKey, tunnel: 'byo' };
  assert.equal((await proxyRequest(server, auth, { url: `${app.url}/` })).status, 200);

  // A keep-alive REST connection opened before the reload.
  const agent = new https.Agent({ keepAlive: true, maxSockets: 1 });
  const readyz = server.restUrl.replace(/\/rest\/v1$/, '/readyz');
  const before = await restGet(readyz, first.caPem, agent);
  assert.equal(before.status, 200);
  assert.equal(before.fingerprint, fp1);

  // Renewal: new files, logrotate moves the log away, SIGHUP.
  writeFileSync(certPath, second.certPem);
  writeFileSync(keyPath, second.keyPem);
  renameSync(logPath, logPath + '.1');
  server.proc.kill('SIGHUP');
  await waitFor('the reload in the reopened log file', () => /reloaded --tls-cert/.test(log()), 20_000, log);
  assert.match(log(), /log file reopened/);
  assert.doesNotMatch(readFileSync(logPath + '.1', 'utf8'), /reloaded --tls-cert/);

  const kept = await restGet(readyz, first.caPem, agent);
  assert.equal(kept.status, 200);
  assert.ok(kept.reused, 'the connection opened before SIGHUP is still open');
  assert.equal(kept.fingerprint, fp1, 'an open connection keeps its certificate');
  agent.destroy();
  assert.equal(
    await presented(new URL(server.restUrl).host, ca2.certPem),
    fp2,
    'new REST handshakes: new pair',
  );
  assert.equal(await presented(server.edgeAddress, ca2.certPem), fp2, 'new edge handshakes: new pair');
  assert.equal(
    (await proxyRequest(server, auth, { url: `${app.url}/` })).status,
    200,
    'the tunnel still serves',
  );

  // A key that is not the certificate's: logged, the current pair kept, the server keeps running.
  writeFileSync(keyPath, first.keyPem);
  server.proc.kill('SIGHUP');
  await waitFor('the refused reload in the log', () => /cannot reload --tls-cert/.test(log()), 20_000, log);
  assert.match(log(), /is not the private key of --tls-cert/);
  assert.doesNotMatch(log(), /BEGIN/, 'no key material in the log');
  assert.equal(await presented(new URL(server.restUrl).host, ca2.certPem), fp2);
  assert.equal((await proxyRequest(server, auth, { url: `${app.url}/` })).status, 200);

  await sc.stop();
  await app.close();
  assert.equal(await server.stop(), 0);
});

test('a bad --tls-cert/--tls-key at start: a clear error, exit 2, nothing started', async () => {
  const dir = await tempDir('sluice-srvcli-');
  const first = await testCa();
  const other = await issueCertificate(await createCa('other'), ['localhost']);
  const w = (name: string, text: string): string => {
    writeFileSync(join(dir, name), text);
    return join(dir, name);
  };
  const cert = w('cert.pem', first.certPem);
  const cases: [string, string, RegExp][] = [
    [cert, w('wrong-key.pem', other.keyPem), /wrong-key\.pem is not the private key of --tls-cert/],
    [cert, join(dir, 'missing.pem'), /--tls-key .*missing\.pem: file not found/],
    [
      w('garbage.pem', 'hello\n'),
      w('key.pem', first.keyPem),
      /--tls-cert .*garbage\.pem: no PEM certificate found/,
    ],
    [cert, w('not-a-key.pem', first.certPem), /--tls-key .*not-a-key\.pem: not a PEM private key/],
  ];
  for (const [c, k, re] of cases) {
    const dataDir = join(dir, 'data');
    const r = await run(SERVER_MAIN, ['start', '--data-dir', dataDir, '--tls-cert', c, '--tls-key', k]);
    assert.equal(r.code, 2, r.out);
    assert.match(r.out, re);
    assert.doesNotMatch(r.out, /BEGIN/);
    noStack(r.out);
    assert.ok(!existsSync(dataDir), 'a refused start created the data dir');
  }
});

test('sc-server admin uses the same parser and --data-dir declaration (env SLUICE_SERVER_DATA_DIR, SC_DATA_DIR)', async () => {
  const dir = await tempDir('sluice-srvcli-');
  for (const name of ['SLUICE_SERVER_DATA_DIR', 'SC_DATA_DIR']) {
    const r = await run(SERVER_MAIN, ['admin', 'users', 'list'], cleanEnv({ [name]: join(dir, name) }));
    assert.equal(r.code, 2, r.out);
    assert.ok(r.out.includes(`no Sluice store at ${join(dir, name)}`), r.out);
  }
  const bad = await run(SERVER_MAIN, ['admin', 'users', 'list', '--jsn']);
  assert.equal(bad.code, 2);
  assert.match(bad.out, /unknown flag --jsn.*--json/);
});
