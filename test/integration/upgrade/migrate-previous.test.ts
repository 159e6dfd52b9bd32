/**
 * A data directory written by the previous release (test/fixtures/upgrade-d9d1af4, made by
 * test/fixtures/make-upgrade-fixture.sh with that release's build) starts under today's sc-server: accounts,
 * teams, roles, an old access key and the tunnel history survive, the CA is kept, and a tunnel works.
 */
import assert from 'node:assert/strict';
import { chmod, cp, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, test } from 'node:test';
import Database from 'better-sqlite3';
import {
  cleanup,
  proxyRequest,
  rest,
  ROOT,
  startClient,
  startHttpApp,
  startServer,
  tempDir,
} from '../../kit/index.js';
import { knownMigrations } from '../../../src/server/store/migrations.js';

after(cleanup);

const FIXTURE = join(ROOT, 'test/fixtures/upgrade-d9d1af4');

interface Fixture {
  made_by: string;
  admin: { username: string; access_key: string };
  bob: { username: string; access_key: string; team: string };
  service_account: string;
  tunnel: string;
}

test("the previous release's data directory migrates on start and keeps accounts, keys and history", async () => {
  const fx = JSON.parse(await readFile(join(FIXTURE, 'fixture.json'), 'utf8')) as Fixture;
  const dataDir = join(await tempDir('sluice-upgrade-'), 'data');
  await cp(FIXTURE, dataDir, { recursive: true });
  // git keeps no modes: give the copy the ones the old server wrote.
  await chmod(dataDir, 0o700);
  for (const f of ['server-secret', 'ca-key.pem', 'server-key.pem']) await chmod(join(dataDir, f), 0o600);

  const server = await startServer({ dataDir, adminUser: null, adminKey: null });
  const admin = { username: fx.admin.username, accessKey: fx.admin.access_key };
  const bob = { username: fx.bob.username, accessKey: fx.bob.access_key };

  const users = await rest<{ username: string; role: string; teams: string[] }[]>(
    server,
    'GET',
    '/admin/users',
    admin,
  );
  assert.equal(users.status, 200, users.text);
  const byName = new Map(users.json.map((u) => [u.username, u]));
  assert.deepEqual([...byName.keys()].sort(), ['admin', 'bob', 'svc']);
  assert.equal(byName.get('svc')!.role, 'service_account');
  assert.deepEqual(byName.get('bob')!.teams, [fx.bob.team]);

  // bob's key from the old release still authenticates, and his tunnel history is there.
  const history = await rest<{ tunnels: { tunnel_identifier: string; status: string }[] }>(
    server,
    'GET',
    '/bob/all_tunnels',
    bob,
  );
  assert.equal(history.status, 200, history.text);
  assert.deepEqual(
    history.json.tunnels.map((t) => [t.tunnel_identifier, t.status]),
    [[fx.tunnel, 'terminated']],
  );

  // The CA the old release made is the one served, so clients keep trusting it.
  assert.equal(server.caPem, await readFile(join(FIXTURE, 'ca.pem'), 'utf8'));

  // A tunnel of bob's works on the upgraded server.
  const app = await startHttpApp();
  const client = await startClient(server, { tunnelName: 'after-upgrade', ...bob });
  const r = await proxyRequest(server, { ...bob, tunnel: 'after-upgrade' }, { url: `${app.url}/bytes/100` });
  assert.equal(r.status, 200);
  await client.stop();
  await server.stop();

  // Every migration this build knows is recorded as applied.
  const db = new Database(join(dataDir, 'sluice.db'), { readonly: true });
  const applied = (
    db.prepare('select name from kysely_migration order by name').all() as { name: string }[]
  ).map((m) => m.name);
  db.close();
  assert.deepEqual(applied, knownMigrations);
});
