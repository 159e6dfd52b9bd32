/**
 * Tunnel quotas (--max-tunnels-per-user, --max-tunnels-per-org: REST create answers 403 quota_exceeded naming
 * the quota) and tunnel history retention (--tunnel-history-retention: stopped tunnels are pruned).
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import {
  cleanup,
  rest,
  startServer,
  waitFor,
  type RestCredentials,
  type TestServer,
} from '../../kit/index.js';

after(cleanup);

async function user(server: TestServer, username: string, org?: string): Promise<RestCredentials> {
  const r = await rest<{ access_key: string }>(server, 'POST', '/admin/users', server.admin, {
    username,
    role: 'org_admin',
    ...(org ? { org } : {}),
  });
  assert.equal(r.status, 201, r.text);
  return { username, accessKey: r.json.access_key };
}

const create = (server: TestServer, who: RestCredentials, name: string, pool = false) =>
  rest<{ id: string; code?: string; error?: string }>(server, 'POST', `/${who.username}/tunnels`, who, {
    tunnel_identifier: name,
    tunnel_pool: pool,
  });

test('tunnel quotas per user and per org: a create past either answers 403 quota_exceeded naming it', async () => {
  const server = await startServer({ args: ['--max-tunnels-per-user', '2', '--max-tunnels-per-org', '3'] });
  const a = await user(server, 'alice');
  const b = await user(server, 'bob');
  assert.equal((await create(server, a, 'one')).status, 200);
  assert.equal((await create(server, a, 'two')).status, 200);
  const third = await create(server, a, 'three');
  assert.equal(third.status, 403, third.text);
  assert.equal(third.json.code, 'quota_exceeded');
  assert.match(third.json.error ?? '', /max-tunnels-per-user \(2\)/);
  // Replacing a running tunnel of the same name does not add one: allowed at the quota.
  assert.equal((await create(server, a, 'two')).status, 200);

  assert.equal((await create(server, b, 'b1')).status, 200);
  const org = await create(server, b, 'b2');
  assert.equal(org.status, 403, org.text);
  assert.equal(org.json.code, 'quota_exceeded');
  assert.match(org.json.error ?? '', /max-tunnels-per-org \(3\)/);

  // Stopping one frees a slot.
  const mine = await rest<{ id: string }[]>(server, 'GET', `/alice/tunnels?full=true`, a);
  const del = await rest(server, 'DELETE', `/alice/tunnels/${mine.json[0]!.id}`, a);
  assert.equal(del.status, 200, del.text);
  assert.equal((await create(server, b, 'b2')).status, 200);
});

test('--tunnel-history-retention: stopped tunnels are pruned, running ones kept', async () => {
  const server = await startServer({ args: ['--tunnel-history-retention', '1s'] });
  const a = server.admin;
  const stopped = await create(server, a, 'old');
  const running = await create(server, a, 'current');
  assert.equal(stopped.status, 200);
  const del = await rest(server, 'DELETE', `/${a.username}/tunnels/${stopped.json.id}`, a);
  assert.equal(del.status, 200);
  assert.equal((await rest(server, 'GET', `/${a.username}/tunnels/${stopped.json.id}`, a)).status, 200);
  await waitFor(
    'stopped tunnel pruned',
    async () => (await rest(server, 'GET', `/${a.username}/tunnels/${stopped.json.id}`, a)).status === 404,
  );
  const all = await rest<{ id: string }[]>(server, 'GET', `/${a.username}/all_tunnels`, a);
  assert.equal(all.status, 200, all.text);
  assert.ok(!all.text.includes(stopped.json.id), all.text);
  assert.equal((await rest(server, 'GET', `/${a.username}/tunnels/${running.json.id}`, a)).status, 200);
});
