/**
 * TLS resigning (docs/routing.md, docs/decisions/0016-tls-resigning.md): a browser's CONNECT to a resigned host is
 * terminated by sc-server with a leaf from its resigning CA; the requests inside go through the tunnel as
 * https://host/..., so sc applies --header and --auth and the tunnel's deny rules hold for every request on the
 * connection; sc makes the TLS to the real site and verifies its certificate (502 target_tls_failed otherwise).
 * wss:// keeps working through a resigned CONNECT; --tls-passthrough-domains keeps the raw pipe.
 */
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import {
  cleanup,
  rest,
  SERVER_MAIN,
  connectThroughProxy,
  within,
  closed,
  onCleanup,
  startClient,
  startServer,
  startTlsApp,
  startWsEcho,
  tempDir,
  testCa,
  tlsThroughConnect,
  type TestServer,
  wssThroughConnect,
} from '../../kit/index.js';
import { createCa, issueCertificate } from '../../../src/server/pki/ca.js';

after(cleanup);

function auth(server: TestServer, tunnel: string) {
  return { username: server.admin.username, accessKey: server.admin.accessKey, tunnel };
}

async function resignCa(server: TestServer): Promise<string> {
  const info = server.info as unknown as { resign_ca_cert: string };
  assert.ok(info.resign_ca_cert, 'server.json names the resigning CA');
  return readFile(info.resign_ca_cert, 'utf8');
}

/** The kit's test CA as a file for sc's --cacert-file. */
async function testCaFile(): Promise<string> {
  const path = join(await tempDir(), 'target-ca.pem');
  await writeFile(path, (await testCa()).caPem);
  return path;
}

/** An HTTPS app on 127.0.0.1 presenting `cert` (an echo of method, url and headers). */
async function httpsApp(cert: { certPem: string; keyPem: string }): Promise<number> {
  const server = https.createServer({ cert: cert.certPem, key: cert.keyPem }, (req, res) => {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ url: req.url, headers: req.headers }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  onCleanup(() => new Promise<void>((r) => server.close(() => r())));
  return (server.address() as AddressInfo).port;
}

test('a resigned CONNECT: the browser sees the resigning CA, sc reaches the HTTPS app and applies --header and --auth', async () => {
  const app = await startTlsApp();
  const server = await startServer();
  const sc = await startClient(server, {
    tunnelName: 'resign',
    args: [
      '--cacert-file',
      await testCaFile(),
      '--header',
      'X-Resigned: yes',
      '--auth',
      `alice:s3cret@localhost:${app.port}`,
      '--log-http',
      'proxy:url',
    ],
  });
  const s = await tlsThroughConnect(
    server,
    auth(server, 'resign'),
    `localhost:${app.port}`,
    await resignCa(server),
  );
  assert.match(String(s.peer.issuer.CN), /resigning CA/, 'the leaf comes from the resigning CA');
  assert.equal(s.peer.subject.CN, 'localhost');

  const first = await s.request('/first');
  assert.equal(first.status, 200, first.body);
  const echo = JSON.parse(first.body) as { url: string; headers: Record<string, string> };
  assert.equal(echo.url, '/first');
  assert.equal(echo.headers['x-resigned'], 'yes', '--header applied inside HTTPS');
  assert.equal(
    echo.headers['authorization'],
    `Basic ${Buffer.from('alice:s3cret').toString('base64')}`,
    '--auth applied inside HTTPS',
  );
  // A request that carries its own Authorization keeps it; the same connection carries it.
  const second = await s.request('/second', { headers: { authorization: 'Bearer mine' } });
  assert.equal(second.status, 200, second.body);
  assert.equal(
    (JSON.parse(second.body) as { headers: Record<string, string> }).headers['authorization'],
    'Bearer mine',
  );
  assert.equal(app.requests.length, 2, 'both requests reached the app');
  // sc logged them as https:// requests (HTTP logging sees inside resigned TLS).
  await sc.waitForLog(new RegExp(`https://localhost:${app.port}/second`));
  s.close();
});

test('a deny rule holds for a later request on the same resigned connection', async () => {
  const app = await startTlsApp();
  const server = await startServer();
  await startClient(server, {
    tunnelName: 'deny',
    args: ['--cacert-file', await testCaFile(), '--deny-domains', 'forbidden\\.test'],
  });
  const s = await tlsThroughConnect(
    server,
    auth(server, 'deny'),
    `localhost:${app.port}`,
    await resignCa(server),
  );
  const ok = await s.request('/ok');
  assert.equal(ok.status, 200, ok.body);
  const denied = await s.request('/secret', { headers: { host: 'forbidden.test' } });
  assert.equal(denied.status, 403);
  assert.equal(denied.error, 'denied');
  assert.match(denied.body, /host "forbidden\.test" matches deny_domains/);
  assert.equal(app.requests.length, 1, 'the denied request never reached anything');
  s.close();
});

test("the real site's certificate is verified: unknown CA, wrong name and expired answer 502 target_tls_failed", async () => {
  const ca = await createCa('Resign test target CA');
  const caFile = join(await tempDir(), 'ca.pem');
  await writeFile(caFile, ca.certPem);
  const good = await httpsApp(await issueCertificate(ca, ['localhost']));
  const wrongName = await httpsApp(await issueCertificate(ca, ['elsewhere.test']));
  const expired = await httpsApp(await issueCertificate(ca, ['localhost'], -1));
  const unknown = await httpsApp(await issueCertificate(await createCa('Untrusted CA'), ['localhost']));

  const server = await startServer();
  await startClient(server, { tunnelName: 'verify', args: ['--cacert-file', caFile] });
  const caPem = await resignCa(server);
  const get = async (port: number) => {
    const s = await tlsThroughConnect(server, auth(server, 'verify'), `localhost:${port}`, caPem);
    const r = await s.request('/');
    s.close();
    return r;
  };
  const ok = await get(good);
  assert.equal(ok.status, 200, 'a site whose CA is in --cacert-file verifies');
  for (const [port, cause] of [
    [unknown, /unable to verify|self.signed|issuer/i],
    [wrongName, /altnames|does not match|ERR_TLS_CERT_ALTNAME_INVALID/i],
    [expired, /expired/i],
  ] as const) {
    const r = await get(port);
    assert.equal(r.status, 502, r.body);
    assert.equal(r.error, 'target_tls_failed');
    assert.match(r.body, cause);
  }
});

test('wss:// through a resigned CONNECT', async () => {
  const echo = await startWsEcho(true);
  const server = await startServer();
  await startClient(server, { tunnelName: 'wss', args: ['--cacert-file', await testCaFile()] });
  const ws = await wssThroughConnect(
    server,
    auth(server, 'wss'),
    `wss://localhost:${echo.port}/`,
    await resignCa(server),
  );
  const reply = new Promise<string>((r) => ws.once('message', (m: Buffer) => r(m.toString())));
  ws.send('hello over resigned TLS');
  assert.equal(await reply, 'hello over resigned TLS');
  ws.close();
  await closed(ws);
});

test('--tls-passthrough-domains keeps the raw pipe: the browser sees the target’s own certificate', async () => {
  const app = await startTlsApp();
  const server = await startServer();
  await startClient(server, { tunnelName: 'pass', args: ['--tls-passthrough-domains', 'localhost'] });
  const s = await tlsThroughConnect(
    server,
    auth(server, 'pass'),
    `localhost:${app.port}`,
    (await testCa()).caPem,
  );
  assert.doesNotMatch(String(s.peer.issuer.CN), /resigning/);
  assert.match(String(s.peer.issuer.CN), /throwaway/);
  const r = await s.request('/through');
  assert.equal(r.status, 200, r.body);
  s.close();
});

test('the CA a browser must trust: server.json, the public REST endpoint and sc-server admin resign-ca agree', async () => {
  const server = await startServer();
  const pem = await resignCa(server);
  assert.notEqual(pem, server.caPem, 'resigning has its own CA, not the tunnel server CA');
  const r = await rest<{ certificate: string; fingerprint: string }>(
    server,
    'GET',
    '/public/tunnels/info/resign-ca',
    null,
  );
  assert.equal(r.status, 200);
  assert.equal(r.json.certificate, pem);
  assert.doesNotMatch(r.text, /PRIVATE KEY/);
  const cli = await promisify(execFile)(process.execPath, [
    SERVER_MAIN,
    'admin',
    'resign-ca',
    '--data-dir',
    server.dataDir,
  ]);
  assert.equal(cli.stdout.trim(), pem.trim());
});

test('a browser that never starts its TLS inside a resigned CONNECT is closed after --proxy-header-timeout', async () => {
  const app = await startTlsApp();
  const server = await startServer({ args: ['--proxy-header-timeout', '1s'] });
  await startClient(server, { tunnelName: 'silent' });
  const raw = await connectThroughProxy(server, `localhost:${app.port}`, auth(server, 'silent'));
  raw.resume();
  await within(
    new Promise<void>((resolve) => {
      raw.once('end', () => resolve());
      raw.once('close', () => resolve());
    }),
    15_000,
    'the silent CONNECT to be closed',
  );
  assert.equal(raw.bytesRead > 0, true, 'it was answered 200 first');
});
