/**
 * `sc-server admin rotate-ca` and `rotate-secret` on a server's data dir, then a restart: existing access keys
 * still authenticate (and are rehashed under the new secret), a client trusting only the old CA still connects
 * (cross-signed chain), one trusting only the new CA connects, `sc` with the new ca.pem bundle runs a tunnel, and
 * the data dir keeps its modes. Both rotations are in the audit log.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import {
  SERVER_MAIN,
  cleanup,
  proxyGet,
  rest,
  startClient,
  startHttpApp,
  startServer,
  type Origin,
} from '../../kit/index.js';

let app: Origin;
before(async () => {
  app = await startHttpApp();
});
after(cleanup);

const admin = (dir: string, ...args: string[]) =>
  spawnSync(process.execPath, [SERVER_MAIN, 'admin', ...args, '--data-dir', dir], { encoding: 'utf8' });

function certs(pem: string): string[] {
  return pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n?/g) ?? [];
}

test('rotate-ca and rotate-secret keep accounts, old and new CA clients, and file modes', async () => {
  const server = await startServer();
  const created = await rest<{ access_key: string }>(server, 'POST', '/admin/users', server.admin, {
    username: 'alice',
    role: 'org_admin',
  });
  assert.equal(created.status, 201, created.text);
  const alice = { username: 'alice', accessKey: created.json.access_key };
  const oldCa = server.caPem;
  assert.equal(certs(oldCa).length, 1);
  const secretBefore = await readFile(join(server.dataDir, 'server-secret'), 'utf8');

  const ok = (...args: string[]): string => {
    const r = admin(server.dataDir, ...args);
    assert.equal(r.status, 0, r.stderr);
    return r.stdout;
  };
  /** REST as `who` from a client trusting `caPem` only: its status, or the TLS error code. */
  const asClient = async (caPem: string, who: { username: string; accessKey: string }): Promise<string> => {
    try {
      return String(
        (await rest({ restUrl: current.restUrl, caPem }, 'GET', `/${who.username}/tunnels`, who)).status,
      );
    } catch (err) {
      return (err as NodeJS.ErrnoException).code ?? String(err);
    }
  };
  let current = server;

  // Step 1: a new CA, ca.pem = bundle; the server still presents the old CA's certificate. And a new secret.
  ok('rotate-ca');
  ok('rotate-secret');
  assert.notEqual(await readFile(join(server.dataDir, 'server-secret'), 'utf8'), secretBefore);
  current = await current.restart();
  const bundle = await readFile(current.caCert, 'utf8');
  assert.equal(certs(bundle).length, 2, 'ca.pem holds the current and the new CA');
  assert.equal(certs(bundle)[0], certs(oldCa)[0]);
  const newOnly = certs(bundle)[1]!;
  for (const who of [current.admin, alice]) {
    assert.equal(await asClient(oldCa, who), '200', 'old-CA clients keep working during the overlap');
    assert.equal(await asClient(bundle, who), '200');
  }
  assert.equal(await asClient(newOnly, alice), 'UNABLE_TO_VERIFY_LEAF_SIGNATURE');
  const refused = admin(server.dataDir, 'rotate-ca');
  assert.equal(refused.status, 1, 'a second start while one is under way is refused');
  assert.match(refused.stderr, /already under way/);

  // Step 2: the new CA signs the server certificate.
  ok('rotate-ca', '--finish');
  current = await current.restart();
  const after2 = await readFile(current.caCert, 'utf8');
  assert.deepEqual(certs(after2), [newOnly, certs(oldCa)[0]]);
  for (const who of [current.admin, alice]) {
    assert.equal(await asClient(newOnly, who), '200', `${who.username} after the switch (keys survive)`);
    assert.equal(await asClient(bundle, who), '200');
  }
  assert.notEqual(await asClient(oldCa, alice), '200', 'the old CA alone no longer verifies the server');

  // sc with the new bundle runs a tunnel.
  await startClient(current, { tunnelName: 'after-rotation' });
  const r = await proxyGet(current, { ...current.admin, tunnel: 'after-rotation' }, `${app.url}/hello`);
  assert.equal(r.status, 200, r.body);

  // Modes kept after the rotations and the restart.
  assert.equal((await stat(current.dataDir)).mode & 0o777, 0o700);
  for (const e of await readdir(current.dataDir, { withFileTypes: true })) {
    if (e.isFile()) assert.equal((await stat(join(current.dataDir, e.name))).mode & 0o777, 0o600, e.name);
  }
  const audit = admin(current.dataDir, 'audit', '--json');
  assert.equal(audit.status, 0, audit.stderr);
  const actions = (JSON.parse(audit.stdout) as { action: string; result: string }[]).map((e) => e.action);
  assert.ok(actions.includes('admin rotate-ca') && actions.includes('admin rotate-secret'), audit.stdout);
});
