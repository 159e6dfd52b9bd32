/** TLS resigning in process: which hosts are resigned, what sc sends, the leaf cache, the request URL inside TLS. */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { readFile } from 'node:fs/promises';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import tls from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { DomainRules } from '../../../src/server/routing/domain-rules.js';
import { createResigner, loadOrCreateResignCa } from '../../../src/server/pki/resign-ca.js';
import { spkiHash, RESIGN_KEY_FILE } from '../../../src/server/gateway/resign-key.js';
import { resignedUrl } from '../../../src/server/proxy/resign.js';
import { tlsLists } from '../../../src/client/run.js';
import { parseRunOptions } from '../../../src/options/index.js';
import { systemCaCerts } from '../../../src/client/egress/target-tls.js';

const dirs: string[] = [];
after(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));
async function dataDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'sluice-resign-'));
  dirs.push(d);
  return d;
}

const rules = (lists: { tlsResignDomains?: string[]; tlsPassthroughDomains?: string[] }) =>
  new DomainRules({ tunnelDomains: [], directDomains: [], denyDomains: [], ...lists });

test('resign everything by default; passthrough lists exempt hosts; resign lists name the only ones', () => {
  assert.equal(rules({}).tls('example.com'), 'resign');
  const pass = rules({ tlsPassthroughDomains: ['.*\\.bank\\.test'] });
  assert.equal(pass.tls('www.bank.test'), 'passthrough');
  assert.equal(pass.tls('shop.test'), 'resign');
  const only = rules({ tlsResignDomains: ['shop\\.test'] });
  assert.equal(only.tls('shop.test'), 'resign');
  assert.equal(only.tls('SHOP.test.'), 'resign', 'normalised like the other rules');
  assert.equal(only.tls('www.bank.test'), 'passthrough');
  assert.equal(
    rules({ tlsPassthroughDomains: ['.*'] }).tls('any.test'),
    'passthrough',
    '.* turns resigning off',
  );
  assert.throws(
    () => rules({ tlsResignDomains: ['a'], tlsPassthroughDomains: ['b'] }),
    /tls_resign_domains and tls_passthrough_domains exclude each other/,
  );
  assert.throws(() => rules({ tlsResignDomains: ['(x'] }), /tls_resign_domains: "\(x" is an invalid regular/);
});

test('sc sends SC5 semantics: default .*, passthrough alone without the default, --auth hosts always resigned', () => {
  const opts = (argv: string[]) =>
    parseRunOptions(
      [...argv, '-u', 'u', '-k', 'k', '-r', 'us-west', '-i', 't', '--rest-url', 'https://127.0.0.1/rest/v1'],
      {},
      '/',
    ).options;
  assert.deepEqual(tlsLists(opts([])), { tls_resign_domains: ['.*'], tls_passthrough_domains: [] });
  assert.deepEqual(tlsLists(opts(['--tls-passthrough-domains', '.*'])), {
    tls_resign_domains: [],
    tls_passthrough_domains: ['.*'],
  });
  assert.deepEqual(tlsLists(opts(['-B', '.*', '--auth', 'u:p@intra.example:443,v:q@*:8080'])), {
    tls_resign_domains: [],
    tls_passthrough_domains: ['.*', '-intra\\.example'],
  });
  assert.deepEqual(tlsLists(opts(['-b', 'shop\\.test', '--auth', 'u:p@intra.example:*'])), {
    tls_resign_domains: ['shop\\.test', 'intra\\.example'],
    tls_passthrough_domains: [],
  });
  // What sc sends, the server accepts and means the same by.
  const r = rules({ tlsPassthroughDomains: ['.*', '-intra\\.example'] });
  assert.equal(r.tls('intra.example'), 'resign');
  assert.equal(r.tls('other.example'), 'passthrough');
});

test('the resigning CA lives in the data dir (key 0600); leaves carry the resigning key and are cached, bounded', async () => {
  const dir = await dataDir();
  const resigner = await createResigner(dir, { maxLeaves: 2 });
  assert.equal((await stat(join(dir, 'resign-ca-key.pem'))).mode & 0o777, 0o600);
  const again = await loadOrCreateResignCa(dir);
  assert.equal(again.created, false);
  assert.equal(again.ca.certPem, resigner.ca.certPem, 'the same CA after a restart');

  const a1 = resigner.contextFor('a.test');
  const a2 = resigner.contextFor('A.test');
  assert.equal(a1, a2, 'one leaf per host, also while it is being signed');
  await a1;
  assert.equal(resigner.issued, 1);
  await resigner.contextFor('b.test');
  await resigner.contextFor('a.test'); // a.test is now the most recently used
  await resigner.contextFor('127.0.0.1');
  assert.equal(resigner.size, 2, 'bounded');
  assert.equal(resigner.issued, 3);
  await resigner.contextFor('a.test');
  assert.equal(resigner.issued, 3, 'a.test stayed cached, b.test was dropped');
  await resigner.contextFor('b.test');
  assert.equal(resigner.issued, 4);

  // The leaf a browser is shown: for the host, issued by the resigning CA, with the gateway's trusted SPKI.
  const server = tls.createServer({
    SNICallback: (_n, cb) => void resigner.contextFor('b.test').then((c) => cb(null, c)),
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  const peer = await new Promise<tls.PeerCertificate>((resolve, reject) => {
    const s = tls.connect({ port, host: '127.0.0.1', servername: 'b.test', ca: resigner.ca.certPem }, () => {
      resolve(s.getPeerCertificate());
      s.destroy();
    });
    s.on('error', reject);
  });
  server.close();
  const leaf = new X509Certificate(peer.raw);
  assert.ok(leaf.checkHost('b.test'));
  assert.ok(leaf.checkIssued(new X509Certificate(resigner.ca.certPem)));
  const keyPem = await readFile(join(dir, RESIGN_KEY_FILE), 'utf8');
  assert.equal(spkiHash(leaf.toString()), spkiHash(keyPem));
  await assert.rejects(resigner.contextFor('bad host'), /cannot resign/);
});

test('the URL of a request inside resigned TLS: its Host, https, the CONNECT port when Host names none', () => {
  const req = (url: string, host?: string) => ({ url, headers: host ? { host } : {} }) as IncomingMessage;
  const c = { host: 'shop.test', port: 8443 };
  assert.equal(resignedUrl(req('/a?b=1', 'shop.test'), c)?.href, 'https://shop.test:8443/a?b=1');
  assert.equal(resignedUrl(req('/a', 'shop.test:9000'), c)?.href, 'https://shop.test:9000/a');
  assert.equal(resignedUrl(req('/a', 'other.test'), c)?.href, 'https://other.test/a');
  assert.equal(resignedUrl(req('/a'), c)?.href, 'https://shop.test:8443/a');
  assert.equal(resignedUrl(req('/a'), { host: '::1', port: 443 })?.href, 'https://[::1]/a');
  assert.equal(resignedUrl(req('http://x/'), c), null, 'origin form only');
  assert.equal(resignedUrl(req('/a', 'u:p@evil.test'), c), null);
});

test('system CA files are read (Node 20 has no --use-system-ca)', async () => {
  const dir = await dataDir();
  const pem = (await loadOrCreateResignCa(dir)).ca.certPem;
  const { writeFile } = await import('node:fs/promises');
  await writeFile(join(dir, 'one.pem'), pem);
  await writeFile(join(dir, 'not-a-cert.txt'), 'x');
  const found = systemCaCerts({ SSL_CERT_FILE: join(dir, 'missing.pem'), SSL_CERT_DIR: dir });
  // The distribution's bundle wins when there is one; otherwise the directory's .pem files.
  assert.ok(found.length >= 1);
  assert.ok(found.every((t) => t.includes('BEGIN CERTIFICATE')));
  assert.deepEqual(systemCaCerts({ SSL_CERT_FILE: join(dir, 'one.pem') }), [pem]);
});
