/**
 * `sc` refuses a server it cannot verify: a CA it does not trust, a certificate for another name, an expired
 * certificate (served with sc-server --tls-cert). Each is a clear error naming the TLS failure, exit code 4
 * (server unreachable; docs/errors.md), no retry loop, and the key never reaches that server's logs.
 */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import tls from 'node:tls';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { createCa, issueCertificate } from '../../../src/server/pki/ca.js';
import { cleanup, startClient, startServer, tempDir, type TestServer } from '../../kit/index.js';

after(cleanup);

async function serverWith(cert: { certPem: string; keyPem: string }): Promise<TestServer> {
  const dir = await tempDir('sluice-tls-');
  writeFileSync(join(dir, 'tls.pem'), cert.certPem);
  writeFileSync(join(dir, 'tls-key.pem'), cert.keyPem);
  return startServer({ args: ['--tls-cert', join(dir, 'tls.pem'), '--tls-key', join(dir, 'tls-key.pem')] });
}

/**
 * A TLS listener presenting `cert` (sc-server itself refuses to start with an expired --tls-cert); sc never gets
 * past its handshake. Its URL stands in for the server's REST URL.
 */
async function tlsFront(cert: { certPem: string; keyPem: string }): Promise<string> {
  const front = tls.createServer({ cert: cert.certPem, key: cert.keyPem }, (s) => s.destroy());
  front.on('tlsClientError', () => {});
  await new Promise<void>((r) => front.listen(0, '127.0.0.1', r));
  after(() => front.close());
  return `https://127.0.0.1:${(front.address() as AddressInfo).port}/rest/v1`;
}

async function scAgainst(
  server: TestServer,
  caPem: string,
  restUrl = server.restUrl,
): Promise<{ code: number | null; logs: string }> {
  const dir = await tempDir('sluice-tls-');
  const caFile = join(dir, 'ca.pem');
  writeFileSync(caFile, caPem);
  const sc = await startClient(server, {
    tunnelName: 'tls',
    bare: true,
    waitReady: false,
    waitApi: false,
    args: [
      ...['--username', server.admin.username, '--access-key', server.admin.accessKey, '--region', 'us-west'],
      ...['--tunnel-name', 'tls', '--rest-url', restUrl, '--cacert-file', caFile],
      ...['--api-address', '127.0.0.1:0'],
    ],
  });
  const exit = await sc.waitExit();
  return { code: exit.code, logs: sc.logs() };
}

test('wrong CA, wrong name, expired certificate: sc exits 4 naming the TLS failure', async () => {
  const ca = await createCa('operator CA');
  const other = await createCa('some other CA');
  const cases = [
    [
      'wrong CA',
      await issueCertificate(ca, ['localhost', '127.0.0.1']),
      other.certPem,
      /UNABLE_TO_VERIFY_LEAF_SIGNATURE/,
    ],
    ['wrong name', await issueCertificate(ca, ['other.example']), ca.certPem, /ERR_TLS_CERT_ALTNAME_INVALID/],
    // Expired a day ago, served by tlsFront (sc-server refuses to start with an expired --tls-cert).
    ['expired', await issueCertificate(ca, ['localhost', '127.0.0.1'], -1), ca.certPem, /CERT_HAS_EXPIRED/],
  ] as const;
  for (const [what, cert, trusted, code] of cases) {
    const expired = what === 'expired';
    const server = expired ? await startServer() : await serverWith(cert);
    const notAfter = Date.parse(new X509Certificate(cert.certPem).validTo);
    if (expired) assert.ok(notAfter < Date.now(), what);
    else assert.ok(notAfter > Date.now() + 3600_000, what);
    const r = await scAgainst(server, trusted, expired ? await tlsFront(cert) : undefined);
    assert.equal(r.code, 4, `${what}: ${r.logs}`);
    assert.match(r.logs, /TLS verification of 127\.0\.0\.1:\d+ failed/, what);
    assert.match(r.logs, code, what);
    assert.ok(!r.logs.includes(server.admin.accessKey), `${what}: key in sc's output`);
    assert.ok(!server.logs().includes(server.admin.accessKey), `${what}: key reached the server`);
    assert.doesNotMatch(server.logs(), /tunnel created/, `${what}: no tunnel was created`);
  }
});
