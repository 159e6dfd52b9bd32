/**
 * sc run --proxy, --pac and --proxy-sauce with real proxies on loopback: tinyproxy with BasicAuth, squid, a PAC
 * choosing between them by host (with a fallback list), an unreachable proxy, a PAC that does not compile, and
 * the REST calls and tunnel links going through squid.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, test } from 'node:test';
import {
  cleanup,
  closedPort,
  connectThroughProxy,
  proxyGet,
  startClient,
  startHttpApp,
  startServer,
  startTcpEcho,
  tempDir,
  testCa,
  type TestServer,
  waitFor,
} from '../../kit/index.js';
import {
  startDante,
  startSocks5,
  startSquid,
  startTinyproxy,
  startTlsConnectProxy,
} from '../../kit/proxies.js';

after(cleanup);

const auth = (server: TestServer, tunnel: string) => ({
  username: server.admin.username,
  accessKey: server.admin.accessKey,
  tunnel,
});

test('--proxy through tinyproxy with BasicAuth: credentials from the URL; without them 502 upstream_proxy_auth', async () => {
  const [server, app, tiny] = await Promise.all([
    startServer(),
    startHttpApp(),
    startTinyproxy({ user: 'pxuser', pass: 'pxpass' }),
  ]);
  await startClient(server, {
    tunnelName: 'tiny-ok',
    args: ['--proxy', `http://pxuser:pxpass@127.0.0.1:${tiny.port}`],
  });
  const ok = await proxyGet(server, auth(server, 'tiny-ok'), `${app.url}/`);
  assert.equal(ok.status, 200, ok.body);
  assert.match(await tiny.log(), new RegExp(`CONNECT 127\\.0\\.0\\.1:${app.port}`));

  await startClient(server, { tunnelName: 'tiny-407', args: ['--proxy', `127.0.0.1:${tiny.port}`] });
  const denied = await proxyGet(server, auth(server, 'tiny-407'), `${app.url}/`);
  assert.equal(denied.status, 502);
  assert.equal(denied.error, 'upstream_proxy_auth');
});

test('--proxy through squid carries the request; an unreachable proxy gives 502 upstream_proxy_unreachable', async () => {
  const [server, app, squid] = await Promise.all([startServer(), startHttpApp(), startSquid()]);
  await startClient(server, { tunnelName: 'squid', args: ['--proxy', `http://127.0.0.1:${squid.port}`] });
  const ok = await proxyGet(server, auth(server, 'squid'), `${app.url}/`);
  assert.equal(ok.status, 200, ok.body);
  assert.ok(app.requests.length >= 1);
  // squid logs a CONNECT when the tunnel ends (the app closes idle kept-alive connections after 5 s).
  await waitFor('squid to log the CONNECT', async () =>
    new RegExp(`CONNECT 127\\.0\\.0\\.1:${app.port}`).test(await squid.log()),
  );

  const dead = await closedPort();
  await startClient(server, { tunnelName: 'dead', args: ['--proxy', `http://127.0.0.1:${dead}`] });
  const r = await proxyGet(server, auth(server, 'dead'), `${app.url}/`);
  assert.equal(r.status, 502);
  assert.equal(r.error, 'upstream_proxy_unreachable');
});

test('--proxy socks5:// through dante carries plain HTTP and CONNECT targets', async () => {
  const [server, app, dante] = await Promise.all([startServer(), startHttpApp(), startDante()]);
  // The CONNECT below carries raw bytes (TCP echo): no resigning.
  await startClient(server, {
    tunnelName: 'socks',
    args: ['--proxy', `socks5://127.0.0.1:${dante.port}`, '--tls-passthrough-domains', '.*'],
  });
  const r = await proxyGet(server, auth(server, 'socks'), `${app.url}/`);
  assert.equal(r.status, 200, r.body);
  const echo = await startTcpEcho('stream');
  const sock = await connectThroughProxy(server, `127.0.0.1:${echo.port}`, auth(server, 'socks'));
  sock.write('ping through socks');
  const got = await new Promise<string>((resolve) => {
    let b = '';
    sock.on('data', (d: Buffer) => {
      b += d.toString();
      if (b.length >= 'ping through socks'.length) resolve(b);
    });
  });
  sock.destroy();
  assert.equal(got, 'ping through socks');
  await waitFor('dante to log the connect', async () =>
    (await dante.log()).includes(`127.0.0.1.${app.port}`),
  );
});

test('--proxy socks5:// with credentials in the URL; wrong ones give 502 upstream_proxy_auth', async () => {
  const [server, app, socks] = await Promise.all([startServer(), startHttpApp(), startSocks5('su', 's:p')]);
  await startClient(server, {
    tunnelName: 'socks-auth',
    args: ['--proxy', `socks5://su:s%3Ap@127.0.0.1:${socks.port}`],
  });
  const r = await proxyGet(server, auth(server, 'socks-auth'), `${app.url}/`);
  assert.equal(r.status, 200, r.body);
  assert.deepEqual(socks.connects, [`127.0.0.1:${app.port}`]);

  const c = await startClient(server, {
    tunnelName: 'socks-bad',
    args: ['--proxy', `socks5://su:nope@127.0.0.1:${socks.port}`],
  });
  const bad = await proxyGet(server, auth(server, 'socks-bad'), `${app.url}/`);
  assert.equal(bad.status, 502);
  assert.equal(bad.error, 'upstream_proxy_auth');
  assert.doesNotMatch(c.logs(), /nope/);
});

test('--proxy https:// is verified with --cacert-file and carries the request; untrusted, it carries nothing', async () => {
  const [server, app, px, ca] = await Promise.all([
    startServer(),
    startHttpApp(),
    startTlsConnectProxy(),
    testCa(),
  ]);
  const caFile = join(await tempDir(), 'proxy-ca.pem');
  await writeFile(caFile, ca.caPem);
  await startClient(server, {
    tunnelName: 'https-proxy',
    args: ['--proxy', `https://localhost:${px.port}`, '--cacert-file', caFile],
  });
  const r = await proxyGet(server, auth(server, 'https-proxy'), `${app.url}/`);
  assert.equal(r.status, 200, r.body);
  assert.deepEqual(px.connects, [`127.0.0.1:${app.port}`]);

  // Without that CA the proxy's certificate is not trusted: nothing is carried.
  await startClient(server, {
    tunnelName: 'https-proxy-untrusted',
    args: ['--proxy', `https://localhost:${px.port}`],
  });
  const u = await proxyGet(server, auth(server, 'https-proxy-untrusted'), `${app.url}/`);
  assert.equal(u.status, 502);
  assert.equal(u.error, 'upstream_proxy_unreachable');
  assert.equal(px.connects.length, 1);
});

test('--pac (a file) picks squid or tinyproxy by host and falls back past a dead proxy', async () => {
  const [server, app, squid, tiny] = await Promise.all([
    startServer(),
    startHttpApp(),
    startSquid(),
    startTinyproxy(),
  ]);
  const dead = await closedPort();
  const pac = `function FindProxyForURL(url, host) {
    if (host == "localhost") return "PROXY 127.0.0.1:${tiny.port}";
    return "PROXY 127.0.0.1:${dead}; PROXY 127.0.0.1:${squid.port}";
  }`;
  const pacFile = join(await tempDir(), 'choose.pac');
  await writeFile(pacFile, pac);
  await startClient(server, { tunnelName: 'pac', args: ['--pac', pacFile] });
  const viaSquid = await proxyGet(server, auth(server, 'pac'), `http://127.0.0.1:${app.port}/a`);
  assert.equal(viaSquid.status, 200, viaSquid.body);
  await waitFor('squid to log the CONNECT', async () =>
    new RegExp(`CONNECT 127\\.0\\.0\\.1:${app.port}`).test(await squid.log()),
  );
  assert.doesNotMatch(await tiny.log(), /CONNECT 127\.0\.0\.1/);
  const viaTiny = await proxyGet(server, auth(server, 'pac'), `http://localhost:${app.port}/b`);
  assert.equal(viaTiny.status, 200, viaTiny.body);
  assert.match(await tiny.log(), new RegExp(`CONNECT localhost:${app.port}`));
});

test('--pac that throws gives 502 pac_failed, one that loops 502 pac_timeout; one that does not compile stops sc at start', async () => {
  const [server, app] = await Promise.all([startServer(), startHttpApp()]);
  const throws = 'function FindProxyForURL(url, host) { throw new Error("no route for " + host); }';
  await startClient(server, {
    tunnelName: 'pac-throws',
    args: ['--pac', `data:base64,${Buffer.from(throws).toString('base64')}`],
  });
  const r = await proxyGet(server, auth(server, 'pac-throws'), `${app.url}/`);
  assert.equal(r.status, 502);
  assert.equal(r.error, 'pac_failed');
  assert.equal(app.requests.length, 0);

  const loops = 'function FindProxyForURL(url, host) { for (;;) {} }';
  await startClient(server, {
    tunnelName: 'pac-loops',
    args: ['--pac', `data:base64,${Buffer.from(loops).toString('base64')}`],
  });
  const t = await proxyGet(server, auth(server, 'pac-loops'), `${app.url}/`);
  assert.equal(t.status, 502);
  assert.equal(t.error, 'pac_timeout');
  // The stuck worker was replaced: the next request gets its own answer (the same loop, so the same error).
  const again = await proxyGet(server, auth(server, 'pac-loops'), `${app.url}/`);
  assert.equal(again.error, 'pac_timeout');
  assert.equal(app.requests.length, 0);

  const broken = 'function FindProxyForURL(url, host) { return ';
  const c = await startClient(server, {
    tunnelName: 'pac-broken',
    waitReady: false,
    args: ['--pac', `data:base64,${Buffer.from(broken).toString('base64')}`],
  });
  const exit = await c.waitExit();
  assert.equal(exit.code, 2);
  assert.match(c.logs(), /--pac: the PAC script does not compile/);
});

test('--proxy-sauce: REST calls and tunnel links go through squid (CONNECT, then TLS)', async () => {
  const [server, app, squid] = await Promise.all([startServer(), startHttpApp(), startSquid()]);
  const c = await startClient(server, {
    tunnelName: 'sauce-proxied',
    args: ['--proxy-sauce', `http://127.0.0.1:${squid.port}`],
  });
  const r = await proxyGet(server, auth(server, 'sauce-proxied'), `${app.url}/`);
  assert.equal(r.status, 200, r.body);
  // squid logs a CONNECT when it ends: stop sc (its last REST call deletes the tunnel, its links close).
  await c.stop();
  await c.waitExit();
  const rest = new URL(server.restUrl);
  const esc = (s: string): string => s.replace(/\./g, '\\.');
  await waitFor('squid to log both CONNECTs', async () => {
    const log = await squid.log();
    return (
      new RegExp(`CONNECT ${esc(rest.hostname)}:${rest.port}`).test(log) &&
      new RegExp(`CONNECT ${esc(server.edgeAddress)}`).test(log)
    );
  });
});

test('--proxy-sauce through tinyproxy with BasicAuth; wrong credentials stop sc with a clear error', async () => {
  const [server, app, tiny] = await Promise.all([
    startServer(),
    startHttpApp(),
    startTinyproxy({ user: 'sauceuser', pass: 'saucepass' }),
  ]);
  const c = await startClient(server, {
    tunnelName: 'sauce-tiny',
    args: ['--proxy-sauce', `http://sauceuser:saucepass@127.0.0.1:${tiny.port}`],
  });
  const r = await proxyGet(server, auth(server, 'sauce-tiny'), `${app.url}/`);
  assert.equal(r.status, 200, r.body);
  const rest = new URL(server.restUrl);
  assert.match(await tiny.log(), new RegExp(`CONNECT ${rest.hostname.replace(/\./g, '\\.')}:${rest.port}`));
  await c.stop();

  const bad = await startClient(server, {
    tunnelName: 'sauce-tiny-bad',
    waitReady: false,
    args: ['--proxy-sauce', `http://sauceuser:wrong@127.0.0.1:${tiny.port}`],
  });
  const exit = await bad.waitExit();
  assert.notEqual(exit.code, 0);
  assert.match(bad.logs(), /--proxy-sauce: .*refused the credentials/);
  assert.doesNotMatch(bad.logs(), /wrong/);
});
