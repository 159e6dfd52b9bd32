/**
 * sc doctor with real parts on loopback: a real sc-server, private apps, a DNS server, tinyproxy with BasicAuth,
 * squid, a PAC file, an expired certificate, a running tunnel. Each check has a pass and a fail case; the exit code
 * is 0 only when nothing failed, and no secret is ever printed.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { createCa, issueCertificate } from '../../../src/server/pki/ca.js';
import {
  cleanup,
  CLIENT_MAIN,
  NodeProcess,
  closedPort,
  runDoctor,
  startClient,
  startDns,
  startExpiredTls,
  startHttpApp,
  startServer,
  startTlsApp,
  tempDir,
  type TestServer,
} from '../../kit/index.js';
import { startSquid, startTinyproxy } from '../../kit/proxies.js';

after(cleanup);

let shared: Promise<TestServer> | undefined;
/** One server for the tests that only read from it. */
const server = (): Promise<TestServer> => (shared ??= startServer());

test('everything passes: exit 0, one line per check, the access key never printed (text and JSON)', async () => {
  const [s, app] = await Promise.all([server(), startHttpApp()]);
  const restUrl = s.restUrl.replace('127.0.0.1', 'localhost');
  const r = await runDoctor(s, {
    restUrl,
    args: ['--proxy-localhost', 'allow', '--check-url', `${app.url}/`],
  });
  assert.equal(r.code, 0, r.output);
  assert.match(r.line('dns'), /^OK +dns +localhost -> .*127\.0\.0\.1/);
  assert.match(r.line('server'), /^OK /);
  assert.match(r.line('tls'), /^OK +tls +TLSv1\.[23] to localhost:\d+, verified: certificate for localhost/);
  assert.match(r.line('credentials'), /^OK +credentials +user "admin" accepted/);
  assert.match(r.line('tunnel'), /^OK +tunnel +"doctor" is free: sc run creates it/);
  assert.match(r.line(`url ${app.url}/`), /no domain rules.*direct: HTTP 200/);
  assert.match(r.output, /passed, 0 failed/);
  assert.ok(!r.output.includes(s.admin.accessKey), 'the access key is printed');
  assert.ok(app.requests.length >= 1, 'the URL was really fetched');

  const j = await runDoctor(s, { restUrl, args: ['--output', 'json'] });
  assert.equal(j.code, 0, j.output);
  const doc = JSON.parse(j.output) as { ok: boolean; checks: { name: string; status: string }[] };
  assert.equal(doc.ok, true);
  assert.deepEqual(
    doc.checks.filter((c) => c.status === 'OK').map((c) => c.name),
    ['dns', 'server', 'tls', 'credentials', 'tunnel'],
  );
  assert.ok(!j.output.includes(s.admin.accessKey));
});

test('the config file and SAUCE_* env vars of sc run configure doctor the same way', async () => {
  const s = await server();
  const dir = await tempDir('sluice-doctor-cfg-');
  const cfg = join(dir, 'sc.yaml');
  await writeFile(
    cfg,
    `username: ${s.admin.username}\nregion: us-west\ntunnel-name: from-config\ncacert-file:\n  - ${s.caCert}\n`,
  );
  const p = new NodeProcess('sc doctor', CLIENT_MAIN, ['doctor', '-c', cfg], {
    PATH: process.env['PATH'],
    SAUCE_ACCESS_KEY: s.admin.accessKey,
    SAUCE_REST_URL: s.restUrl,
  });
  const exit = await p.waitExit(60_000);
  assert.equal(exit.code, 0, p.logs());
  assert.match(p.logs(), /^OK +credentials +user "admin" accepted/m);
  assert.match(p.logs(), /^OK +tunnel +"from-config" is free/m);
  assert.ok(!p.logs().includes(s.admin.accessKey), 'the access key is printed');
});

test('credentials: a wrong access key is a FAIL naming 401, exit 6, the key not printed', async () => {
  const s = await server();
  const wrong = 'wrong-key-0123456789abcdef';
  const r = await runDoctor(s, { accessKey: wrong });
  assert.equal(r.code, 6, r.output);
  assert.match(r.line('credentials'), /^FAIL +credentials +the server refused user "admin" \(401\)/);
  assert.match(r.output, /fix: +check --username and --access-key/);
  assert.match(r.line('tunnel'), /^SKIP /);
  assert.ok(!r.output.includes(wrong), 'the wrong key is printed');
});

test('tls: an untrusted CA (no --cacert-file), an expired certificate and one for another name fail with their cause and fix', async () => {
  const s = await server();
  const untrusted = await runDoctor(s, { cacert: null });
  assert.equal(untrusted.code, 6, untrusted.output);
  assert.match(untrusted.line('tls'), /^FAIL +tls .*issued by "Sluice tunnel server CA"/);
  assert.match(untrusted.output, /cause: the certificate is not signed by a CA this machine trusts/);
  assert.match(untrusted.output, /fix: +add the server's CA .* --cacert-file/);
  assert.match(untrusted.line('credentials'), /^SKIP /);

  const expired = await startExpiredTls();
  const r = await runDoctor(null, {
    restUrl: `https://127.0.0.1:${expired.port}/rest/v1`,
    cacert: expired.caFile,
  });
  assert.equal(r.code, 6, r.output);
  assert.match(r.line('server'), /^OK /);
  assert.match(r.line('tls'), /^FAIL /);
  assert.match(r.output, /cause: the server's certificate expired on \d{4}-\d\d-\d\d/);
  // A certificate for another name (sc-server --tls-cert), from a CA that is trusted.
  const ca = await createCa('doctor operator CA');
  const cert = await issueCertificate(ca, ['other.example']);
  const dir = await tempDir('sluice-doctor-tls-');
  await writeFile(join(dir, 'tls.pem'), cert.certPem);
  await writeFile(join(dir, 'tls-key.pem'), cert.keyPem);
  await writeFile(join(dir, 'ca.pem'), ca.certPem);
  const named = await startServer({
    args: ['--tls-cert', join(dir, 'tls.pem'), '--tls-key', join(dir, 'tls-key.pem')],
  });
  const m = await runDoctor(named, { cacert: join(dir, 'ca.pem') });
  assert.equal(m.code, 6, m.output);
  assert.match(m.line('tls'), /^FAIL +tls .*certificate for other\.example/);
  assert.match(m.output, /cause: the certificate's names \(other\.example\) do not include 127\.0\.0\.1/);
  assert.match(m.output, /fix: +use a host name of the certificate in --rest-url/);
});

test('server: a closed port is a FAIL (connection refused) and the later checks are skipped', async () => {
  const port = await closedPort();
  const r = await runDoctor(null, { restUrl: `https://127.0.0.1:${port}/rest/v1` });
  assert.equal(r.code, 6, r.output);
  assert.match(r.line('server'), new RegExp(`^FAIL +server +cannot reach 127\\.0\\.0\\.1:${port}`));
  assert.match(r.output, /cause: nothing listens at 127\.0\.0\.1:\d+ \(connection refused\)/);
  assert.match(r.line('tls'), /^SKIP /);
  assert.match(r.line('credentials'), /^SKIP /);
});

test('--check-url: a closed port, a denied host, a localhost URL under --proxy-localhost deny fail; rules are named', async () => {
  const [s, app] = await Promise.all([server(), startHttpApp()]);
  const dead = await closedPort();
  const r = await runDoctor(s, {
    args: [
      '--proxy-localhost',
      'allow',
      '--deny-domains',
      'evil\\.test',
      '--check-url',
      `http://127.0.0.1:${dead}/`,
      '--check-url',
      'http://evil.test/x',
    ],
  });
  assert.equal(r.code, 6, r.output);
  assert.match(r.line(`url http://127.0.0.1:${dead}/`), /^FAIL .*dial_refused \(sc answers 502\)/);
  assert.match(r.output, /fix: +nothing listens there/);
  assert.match(r.line('url http://evil.test/x'), /^FAIL .*denied by --deny-domains "evil\\\.test"/);

  const local = await runDoctor(s, { args: ['--check-url', `http://localhost:${app.port}/`] });
  assert.equal(local.code, 6, local.output);
  assert.match(local.line(`url http://localhost:${app.port}/`), /^FAIL .*localhost proxying is disabled/);
  assert.match(local.output, /localhost_denied/);
  assert.match(local.output, /fix: +set --proxy-localhost allow/);
  assert.equal(app.requests.length, 0, 'a denied URL reached the app');

  const tlsApp = await startTlsApp();
  const ok = await runDoctor(s, {
    args: [
      '--tunnel-domains',
      '127\\.0\\.0\\.1',
      '--proxy-localhost',
      'allow',
      '--check-url',
      `${app.url}/`,
      '--check-url',
      `${tlsApp.url}/`,
    ],
  });
  assert.equal(ok.code, 0, ok.output);
  assert.match(ok.line(`url ${app.url}/`), /^OK .*--tunnel-domains "127\\\.0\\\.0\\\.1".*HTTP 200/);
  // https: the CONNECT path, TLS with the target; the test CA is not trusted here, which is noted, not failed.
  assert.match(ok.line(`url ${tlsApp.url}/`), /^OK .*HTTP 200; TLS certificate not trusted here/);
  assert.ok(tlsApp.requests.length >= 1, 'the https URL was really fetched');
});

test('dns-server: a DNS server that answers passes (and resolves --check-url); a silent one fails with the timeout named', async () => {
  const [s, app] = await Promise.all([server(), startHttpApp()]);
  const dns = await startDns({ 'app.test': '127.0.0.1' });
  const url = `http://app.test:${app.port}/`;
  const r = await runDoctor(s, {
    args: ['--dns-server', dns.address, '--proxy-localhost', 'allow', '--check-url', url],
  });
  assert.equal(r.code, 0, r.output);
  assert.match(r.line(`dns-server ${dns.address}`), /^OK .*app\.test -> 127\.0\.0\.1/);
  assert.match(r.line(`url ${url}`), /^OK .*HTTP 200/);

  const silent = await startDns({}, ['app.test']);
  const bad = await runDoctor(s, {
    args: ['--dns-server', silent.address, '--dns-timeout', '1s', '--check-url', url],
  });
  assert.equal(bad.code, 6, bad.output);
  assert.match(bad.line(`dns-server ${silent.address}`), /^FAIL /);
  assert.match(bad.output, /did not answer within 1s \(--dns-timeout\)/);
  assert.match(bad.line(`url ${url}`), /^FAIL .*dns_timeout/);
});

test('proxy: tinyproxy with BasicAuth passes with the credentials, fails naming 407 without; the password never printed', async () => {
  const [s, app, tiny] = await Promise.all([
    server(),
    startHttpApp(),
    startTinyproxy({ user: 'pxuser', pass: 'pxpass-secret' }),
  ]);
  const good = await runDoctor(s, {
    args: [
      '--proxy',
      `http://pxuser:pxpass-secret@127.0.0.1:${tiny.port}`,
      '--proxy-localhost',
      'allow',
      '--check-url',
      `${app.url}/`,
    ],
  });
  assert.equal(good.code, 0, good.output);
  assert.match(
    good.line('proxy'),
    new RegExp(
      `^OK +proxy +CONNECT 127\\.0\\.0\\.1:${app.port} through http://127\\.0\\.0\\.1:${tiny.port}: established`,
    ),
  );
  assert.match(good.line(`url ${app.url}/`), /through --proxy .*HTTP 200/);
  assert.ok(!good.output.includes('pxpass-secret'));

  const bad = await runDoctor(s, {
    args: [
      '--proxy',
      `http://127.0.0.1:${tiny.port}`,
      '--proxy-localhost',
      'allow',
      '--check-url',
      `${app.url}/`,
    ],
  });
  assert.equal(bad.code, 6, bad.output);
  assert.match(bad.line('proxy'), /^FAIL /);
  assert.match(bad.output, /cause: the proxy http:\/\/127\.0\.0\.1:\d+ refused the credentials \(407/);
  assert.match(bad.line(`url ${app.url}/`), /^FAIL .*upstream_proxy_auth/);
});

test('pac: a script routing through squid passes and shows its answer; one that does not compile fails', async () => {
  const [s, app, squid] = await Promise.all([server(), startHttpApp(), startSquid()]);
  const dir = await tempDir('sluice-doctor-pac-');
  const good = join(dir, 'good.pac');
  await writeFile(good, `function FindProxyForURL(url, host) { return "PROXY 127.0.0.1:${squid.port}"; }\n`);
  const r = await runDoctor(s, {
    args: ['--pac', good, '--proxy-localhost', 'allow', '--check-url', `${app.url}/`],
  });
  assert.equal(r.code, 0, r.output);
  assert.match(r.line('pac'), new RegExp(`^OK +pac .*= "PROXY 127\\.0\\.0\\.1:${squid.port}"`));
  assert.match(r.line(`url ${app.url}/`), /PAC "PROXY .*HTTP 200/);

  const broken = join(dir, 'broken.pac');
  await writeFile(broken, 'function FindProxyForURL(url, host) { return "DIRECT"; \n');
  const b = await runDoctor(s, { args: ['--pac', broken] });
  assert.equal(b.code, 6, b.output);
  assert.match(b.line('pac'), /^FAIL +pac /);
  assert.match(b.output, /cause: the PAC script does not compile/);

  const loop = join(dir, 'loop.pac');
  await writeFile(loop, 'function FindProxyForURL(url, host) { for (;;) {} }\n');
  const l = await runDoctor(s, { args: ['--pac', loop] });
  assert.equal(l.code, 6, l.output);
  assert.match(l.line('pac'), /^FAIL +pac +FindProxyForURL\("https:\/\/127\.0\.0\.1:\d+\/"\) failed/);
  assert.match(l.output, /did not return within 5000 ms/);
});

test('proxy-sauce: the server reached through squid passes; an unreachable proxy fails', async () => {
  const [s, squid] = await Promise.all([server(), startSquid()]);
  const r = await runDoctor(s, { args: ['--proxy-sauce', `http://127.0.0.1:${squid.port}`] });
  assert.equal(r.code, 0, r.output);
  assert.match(r.line('proxy-sauce'), /^OK .*reached through --proxy-sauce/);
  assert.match(r.line('credentials'), /^OK /);

  const dead = await closedPort();
  const b = await runDoctor(s, { args: ['--proxy-sauce', `http://127.0.0.1:${dead}`] });
  assert.equal(b.code, 6, b.output);
  assert.match(b.line('proxy-sauce'), /^FAIL /);
  assert.match(b.output, /cause: the proxy http:\/\/127\.0\.0\.1:\d+ cannot be reached/);
});

test('tunnel: a running tunnel of the same name is reported as replaced, or joined with --tunnel-pool', async () => {
  const s = await startServer();
  await startClient(s, { tunnelName: 'busy', args: ['--tunnel-pool'] });
  const replace = await runDoctor(s, { tunnelName: 'busy' });
  assert.equal(replace.code, 0, replace.output);
  assert.match(
    replace.line('tunnel'),
    /^OK +tunnel +"busy" is running already: sc run replaces 1 running tunnel/,
  );
  const join_ = await runDoctor(s, { tunnelName: 'busy', args: ['--tunnel-pool'] });
  assert.match(
    join_.line('tunnel'),
    /^OK +tunnel +"busy" is running already: sc run joins the pool of 1 running/,
  );
});

test('bad options: exit 2 with the problem named; sc run refuses the doctor-only --check-url', async () => {
  const s = await server();
  const r = await runDoctor(s, { args: ['--check-url', 'ftp://x/'] });
  assert.equal(r.code, 2, r.output);
  assert.match(
    r.output,
    /invalid value "ftp:\/\/x\/" for --check-url from the command line: expected an http/,
  );
  assert.doesNotMatch(r.output, /\n\s+at /, 'a stack trace');

  const run = new NodeProcess('sc run', CLIENT_MAIN, ['run', '--check-url', 'http://x/'], {
    PATH: process.env['PATH'],
  });
  const exit = await run.waitExit();
  assert.equal(exit.code, 2, run.logs());
  assert.match(run.logs(), /unknown flag --check-url/);
  // Help: sc help lists doctor; sc doctor --help lists its own flags and sc run's.
  const root = new NodeProcess('sc help', CLIENT_MAIN, ['help'], { PATH: process.env['PATH'] });
  assert.equal((await root.waitExit()).code, 0);
  assert.match(root.logs(), /^ {2}doctor {6}Check /m);
  const help = new NodeProcess('sc doctor --help', CLIENT_MAIN, ['doctor', '--help'], {
    PATH: process.env['PATH'],
  });
  assert.equal((await help.waitExit()).code, 0, help.logs());
  assert.match(help.logs(), /--check-url url .*\[SAUCE_CHECK_URL\]/);
  assert.match(help.logs(), /--output string .*\[no env\]/);
  assert.match(help.logs(), /--tunnel-name string/);
});
