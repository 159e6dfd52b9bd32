/**
 * The audit log of admin actions: who, what, when, result, for the admin REST API and `sc-server admin`
 * commands alike; stored in the data dir's store, read with `sc-server admin audit` and GET /rest/v1/admin/audit
 * (server admins only). It never holds a key.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, test } from 'node:test';
import { SERVER_MAIN, cleanup, rest, startServer } from '../../kit/index.js';

after(cleanup);

interface Entry {
  seq: number;
  at: number;
  actor: string;
  action: string;
  target: string;
  result: string;
}

test('admin actions by REST and CLI are audited; admins read them by REST and CLI, others may not', async () => {
  const server = await startServer();
  const t0 = Math.floor(Date.now() / 1000);
  const created = await rest<{ access_key: string }>(server, 'POST', '/admin/users', server.admin, {
    username: 'alice',
    role: 'team_member',
  });
  assert.equal(created.status, 201, created.text);
  const dup = await rest(server, 'POST', '/admin/users', server.admin, { username: 'alice' });
  assert.equal(dup.status, 409, dup.text);
  const alice = { username: 'alice', accessKey: created.json.access_key };
  const denied = await rest(server, 'PATCH', '/admin/users/admin', alice, { disabled: true });
  assert.equal(denied.status, 404, denied.text); // others' accounts are not even confirmed to exist

  const cli = spawnSync(
    process.execPath,
    [SERVER_MAIN, 'admin', 'teams', 'create', 'qa', '--data-dir', server.dataDir],
    { encoding: 'utf8' },
  );
  assert.equal(cli.status, 0, cli.stderr);

  const byRest = await rest<Entry[]>(server, 'GET', '/admin/audit', server.admin);
  assert.equal(byRest.status, 200, byRest.text);
  const rows = byRest.json.map((e) => [e.actor, e.action, e.target, e.result]);
  assert.deepEqual(rows, [
    [rows[0]![0], 'admin teams create', 'qa', 'ok'],
    ['alice', 'PATCH /admin/users/:username', 'username=admin', rows[1]![3]],
    ['admin', 'POST /admin/users', '', rows[2]![3]],
    ['admin', 'POST /admin/users', 'alice', 'ok'],
  ]);
  assert.match(rows[0]![0]!, /^local:/);
  assert.match(rows[1]![3]!, /^error:/);
  assert.match(rows[2]![3]!, /^error:/);
  for (const e of byRest.json) assert.ok(e.at >= t0 && e.at <= Math.floor(Date.now() / 1000) + 1);
  assert.ok(!byRest.text.includes(alice.accessKey), 'no key in the audit log');

  const forbidden = await rest(server, 'GET', '/admin/audit', alice);
  assert.equal(forbidden.status, 403, forbidden.text);

  const byCli = spawnSync(
    process.execPath,
    [SERVER_MAIN, 'admin', 'audit', '--json', '--limit', '2', '--data-dir', server.dataDir],
    { encoding: 'utf8' },
  );
  assert.equal(byCli.status, 0, byCli.stderr);
  assert.deepEqual(JSON.parse(byCli.stdout), byRest.json.slice(0, 2));
  const bad = spawnSync(
    process.execPath,
    [SERVER_MAIN, 'admin', 'audit', '--limit', '0', '--data-dir', server.dataDir],
    {
      encoding: 'utf8',
    },
  );
  assert.equal(bad.status, 2, bad.stderr);
  assert.match(bad.stderr, /limit/);
});
