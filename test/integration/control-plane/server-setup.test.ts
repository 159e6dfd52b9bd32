/**
 * Issue 2: `sc-server start` needs no setup. It creates its data dir, CA and store, prints the CA fingerprint,
 * takes the admin from env or generates one (printed on the first start only), writes server.json, and /readyz
 * answers.
 */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { isAbsolute, join } from 'node:path';
import { after, test } from 'node:test';
import {
  cleanup,
  listTunnels,
  NodeProcess,
  rest,
  SERVER_MAIN,
  startServer,
  tempDir,
  type ServerJson,
} from '../../kit/index.js';

after(cleanup);

test('first start creates the data dir, CA, store and server.json; admin from env', async () => {
  const key = 'env-admin-key-0123456789';
  const server = await startServer({ adminUser: 'root-admin', adminKey: key });
  const logs = server.logs();
  for (const f of ['sluice.db', 'ca.pem', 'ca-key.pem', 'server.json'])
    assert.ok(existsSync(join(server.dataDir, f)), `${f} missing in the data dir\n${logs}`);

  const json = JSON.parse(await readFile(join(server.dataDir, 'server.json'), 'utf8')) as ServerJson;
  assert.match(json.rest_url, /^https:\/\/127\.0\.0\.1:\d+\/rest\/v1$/);
  assert.match(json.proxy_address, /^127\.0\.0\.1:\d+$/);
  assert.match(json.edge_address, /^127\.0\.0\.1:\d+$/);
  assert.ok(isAbsolute(json.ca_cert));
  assert.equal(json.ca_cert, join(server.dataDir, 'ca.pem'));
  assert.equal(json.pid, server.proc.pid);
  assert.doesNotMatch(json.rest_url, /:0\//, 'server.json must record the real port');
  assert.notEqual(json.proxy_address, '127.0.0.1:0');

  // The fingerprint printed and recorded is the real CA's.
  const fp = new X509Certificate(await readFile(json.ca_cert)).fingerprint256;
  assert.equal(json.ca_fingerprint, fp);
  assert.ok(logs.includes(fp), `CA fingerprint not printed\n${logs}`);

  // The env admin works and no key was generated or echoed.
  assert.deepEqual(await listTunnels(server, { username: 'root-admin', accessKey: key }), []);
  assert.doesNotMatch(logs, /access key:/i);
  assert.ok(!logs.includes(key), 'the access key must never be logged');

  const ready = await rest(server, 'GET', json.rest_url.replace(/\/rest\/v1$/, '/readyz'), null);
  assert.equal(ready.status, 200);
  assert.equal(ready.text.trim(), 'OK');

  assert.equal(await server.stop('SIGTERM'), 0, 'graceful stop exits 0');
});

test('without admin env a key is generated and printed once; the second start does not print it', async () => {
  const first = await startServer({ adminUser: null, adminKey: null });
  const m = /username:\s+(\S+)\s+access key:\s+(\S+)/.exec(first.logs());
  assert.ok(m, `generated admin not printed\n${first.logs()}`);
  const admin = { username: m[1]!, accessKey: m[2]! };
  assert.deepEqual(await listTunnels(first, admin), []);

  const second = await first.restart({ adminUser: null, adminKey: null });
  assert.doesNotMatch(second.logs(), /access key:/i, 'printed again on the second start');
  assert.ok(!second.logs().includes(admin.accessKey), 'the key appeared in the second start logs');
  assert.equal(second.info.ca_fingerprint, first.info.ca_fingerprint, 'the CA must survive a restart');
  assert.deepEqual(await listTunnels(second, admin), [], 'the generated key must still work');
  assert.equal(await second.stop('SIGINT'), 0);
});

test('a bad flag is refused with a message naming it, exit 2, and nothing created', async () => {
  const dataDir = join(await tempDir('sluice-e2e-badflag-'), 'data');
  const p = new NodeProcess(
    'sc-server',
    SERVER_MAIN,
    ['start', '--data-dir', dataDir, '--queue-timeout', 'soon'],
    {
      ...process.env,
    },
  );
  const exit = await p.waitExit();
  assert.equal(exit.code, 2, p.describe());
  assert.match(p.logs(), /"soon" for --queue-timeout/, 'the message must name the flag and value');
  assert.ok(!existsSync(dataDir), 'a refused start created the data dir');
});
