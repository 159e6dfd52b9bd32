/**
 * `sc-server admin backup` while the server runs and serves, then `restore` into a new directory and a server
 * started there: accounts and keys work, the CA is the same (sc trusts it with the old CA file), a tunnel
 * works; restore refuses a running server's directory and a non-empty one without --force.
 */
import assert from 'node:assert/strict';
import { existsSync, statSync } from 'node:fs';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, test } from 'node:test';
import {
  cleanup,
  proxyRequest,
  rest,
  startClient,
  startHttpApp,
  startServer,
  tempDir,
} from '../../kit/index.js';
import { runCli } from '../../fuzz/run-cli.js';

after(cleanup);

test('backup while serving, restore into a new dir, everything still works there', async () => {
  const server = await startServer();
  const app = await startHttpApp();
  const bob = await rest<{ access_key: string }>(server, 'POST', '/admin/users', server.admin, {
    username: 'bob',
  });
  assert.equal(bob.status, 201, bob.text);
  const bobAuth = { username: 'bob', accessKey: bob.json.access_key };
  const client = await startClient(server, { tunnelName: 'before-backup' });
  const admin = { username: server.admin.username, accessKey: server.admin.accessKey };

  // Requests keep flowing through the tunnel while the backup runs.
  let stop = false;
  let served = 0;
  const traffic = (async () => {
    while (!stop) {
      const r = await proxyRequest(
        server,
        { ...admin, tunnel: 'before-backup' },
        { url: `${app.url}/bytes/5000` },
      );
      assert.equal(r.status, 200);
      served++;
    }
  })();
  const work = await tempDir('sluice-backup-');
  const out = join(work, 'backup');
  const made = await runCli('sc-server', ['admin', 'backup', '--data-dir', server.dataDir, '--out', out]);
  stop = true;
  await traffic;
  assert.equal(made.code, 0, made.stderr);
  assert.ok(served > 0);
  assert.equal(statSync(out).mode & 0o777, 0o700);
  for (const f of await readdir(out)) assert.equal(statSync(join(out, f)).mode & 0o777, 0o600, f);
  assert.ok(existsSync(join(out, 'sluice.db')) && existsSync(join(out, 'server-secret')));

  // A second backup into the same directory is refused.
  const again = await runCli('sc-server', ['admin', 'backup', '--data-dir', server.dataDir, '--out', out]);
  assert.equal(again.code, 1);
  assert.match(again.stderr, /not empty/);

  // Restore refuses the running server's directory, and a non-empty one without --force.
  const busy = await runCli('sc-server', [
    'admin',
    'restore',
    '--data-dir',
    server.dataDir,
    '--from',
    out,
    '--force',
  ]);
  assert.equal(busy.code, 1);
  assert.match(busy.stderr, /is running on/);
  const full = join(work, 'full');
  await runCli('sc-server', ['admin', 'restore', '--data-dir', full, '--from', out]);
  await writeFile(join(full, 'stray'), 'x');
  const noForce = await runCli('sc-server', [
    'admin',
    'restore',
    '--data-dir',
    join(work, 'full'),
    '--from',
    out,
  ]);
  assert.equal(noForce.code, 1);
  assert.match(noForce.stderr, /not empty.*--force/);
  const noFrom = await runCli('sc-server', ['admin', 'restore', '--data-dir', join(work, 'x')]);
  assert.equal(noFrom.code, 2);
  assert.match(noFrom.stderr, /--from DIR is required/);

  const target = join(work, 'restored');
  const restored = await runCli('sc-server', ['admin', 'restore', '--data-dir', target, '--from', out]);
  assert.equal(restored.code, 0, restored.stderr);
  assert.equal(statSync(join(target, 'server-secret')).mode & 0o777, 0o600);
  await client.stop();
  await server.stop();

  // The restored server: same CA, same accounts and keys (no admin env: the stored one must work).
  const second = await startServer({ dataDir: target, adminUser: null, adminKey: null });
  assert.equal(second.info.ca_fingerprint, server.info.ca_fingerprint);
  const oldCaPem = await readFile(join(out, 'ca.pem'), 'utf8');
  assert.equal(second.caPem, oldCaPem);
  const bobList = await rest(second, 'GET', '/bob/tunnels', bobAuth);
  assert.equal(bobList.status, 200, bobList.text);
  const users = await rest<{ username: string }[]>(second, 'GET', '/admin/users', admin);
  assert.deepEqual(users.json.map((u) => u.username).sort(), ['admin', 'bob']);
  // sc trusting the old CA file connects to the restored server.
  const secondWithOldCa = { ...second, admin };
  const c2 = await startClient(secondWithOldCa, { tunnelName: 'after-restore' });
  const r = await proxyRequest(
    second,
    { ...admin, tunnel: 'after-restore' },
    { url: `${app.url}/bytes/100` },
  );
  assert.equal(r.status, 200);
  await c2.stop();
  await second.stop();
});
