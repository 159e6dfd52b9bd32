/**
 * Admin REST API against a real sc-server: who may administer whom, keys shown once and never again, revoke and
 * rotate take effect at once, bad input changes nothing, and no access key reaches the server's logs.
 */
import assert from 'node:assert/strict';
import { afterEach, test } from 'node:test';
import { cleanup, raw, rest, type RestResponse, type TestServer, startServer } from '../../kit/index.js';

afterEach(cleanup);

type Creds = { username: string; accessKey: string };

function ok(r: RestResponse, status = 200): Record<string, unknown> {
  assert.equal(r.status, status, `expected ${status}, got ${r.status}: ${r.text}`);
  return r.json as Record<string, unknown>;
}

function fails(r: RestResponse, status: number, code: string): void {
  assert.equal(r.status, status, r.text);
  const body = r.json as { error?: unknown; code?: unknown };
  assert.equal(body.code, code, r.text);
  assert.equal(typeof body.error, 'string');
}

async function createUser(s: TestServer, by: Creds, body: Record<string, unknown>): Promise<Creds> {
  const r = ok(await rest(s, 'POST', '/admin/users', by, body), 201);
  return { username: (r['user'] as { username: string }).username, accessKey: r['access_key'] as string };
}

test('admin API: roles, keys shown once, revoke and rotate, bad input', async () => {
  const s = await startServer({ adminUser: 'root' });
  const ADMIN = s.admin;
  const secrets: string[] = [ADMIN.accessKey];

  ok(await rest(s, 'POST', '/admin/teams', ADMIN, { name: 'web' }), 201);
  ok(await rest(s, 'POST', '/admin/teams', ADMIN, { name: 'mobile' }), 201);
  fails(await rest(s, 'POST', '/admin/teams', ADMIN, { name: 'web' }), 409, 'already_exists');

  // Creating a user returns its first key exactly once, marked no-store.
  const created = await rest(s, 'POST', '/admin/users', ADMIN, {
    username: 'ta',
    role: 'team_admin',
    teams: ['web'],
  });
  const createdBody = ok(created, 201);
  assert.equal(created.headers['cache-control'], 'no-store');
  const ta = { username: 'ta', accessKey: createdBody['access_key'] as string };
  assert.match(ta.accessKey, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  const alice = await createUser(s, ADMIN, { username: 'alice', role: 'team_member', teams: ['web'] });
  const bob = await createUser(s, ADMIN, { username: 'bob', role: 'team_member', teams: ['mobile'] });
  secrets.push(ta.accessKey, alice.accessKey, bob.accessKey);

  const who = ok(await rest(s, 'GET', '/admin/whoami', alice));
  assert.deepEqual([who['username'], who['role'], who['teams']], ['alice', 'team_member', ['web']]);

  // Team members administer no one; team admins their team's members; org admins everyone.
  assert.deepEqual(ok(await rest(s, 'GET', '/admin/users', alice)), []);
  fails(await rest(s, 'POST', '/admin/users', alice, { username: 'x1', teams: ['web'] }), 403, 'forbidden');
  fails(await rest(s, 'POST', '/admin/teams', ta, { name: 'ops' }), 403, 'forbidden');
  fails(await rest(s, 'POST', '/admin/orgs', ta, { name: 'acme' }), 403, 'forbidden');
  const carol = await createUser(s, ta, { username: 'carol', role: 'service_account', teams: ['web'] });
  secrets.push(carol.accessKey);
  fails(await rest(s, 'POST', '/admin/users', ta, { username: 'x2', teams: ['mobile'] }), 403, 'forbidden');
  fails(
    await rest(s, 'POST', '/admin/users', ta, { username: 'x3', role: 'org_admin', teams: ['web'] }),
    403,
    'forbidden',
  );
  fails(await rest(s, 'POST', '/admin/users', ta, { username: 'x4' }), 403, 'forbidden');
  const taSees = (ok(await rest(s, 'GET', '/admin/users', ta)) as unknown as { username: string }[]).map(
    (u) => u.username,
  );
  assert.deepEqual(taSees.sort(), ['alice', 'carol']);
  const rootSees = (ok(await rest(s, 'GET', '/admin/users', ADMIN)) as unknown as { username: string }[]).map(
    (u) => u.username,
  );
  assert.deepEqual(rootSees.sort(), ['alice', 'bob', 'carol', 'root', 'ta']);
  fails(await rest(s, 'PATCH', '/admin/users/bob', ta, { disabled: true }), 404, 'user_not_found');
  fails(await rest(s, 'PATCH', '/admin/users/alice', ta, { role: 'team_admin' }), 403, 'forbidden');
  fails(await rest(s, 'PATCH', '/admin/users/root', ADMIN, { disabled: true }), 403, 'forbidden');

  // Disabling takes effect at once, even though the server caches successful authentications.
  ok(await rest(s, 'GET', '/admin/whoami', carol));
  ok(await rest(s, 'PATCH', '/admin/users/carol', ta, { disabled: true }));
  fails(await rest(s, 'GET', '/admin/whoami', carol), 401, 'unauthorized');
  ok(await rest(s, 'PATCH', '/admin/users/carol', ta, { disabled: false }));
  ok(await rest(s, 'GET', '/admin/whoami', carol));

  // Self-service keys: create (shown once), list without secrets, rotate, revoke.
  const made = ok(await rest(s, 'POST', '/admin/users/alice/keys', alice, { label: 'laptop' }), 201);
  const laptop = { username: 'alice', accessKey: made['access_key'] as string };
  secrets.push(laptop.accessKey);
  ok(await rest(s, 'GET', '/admin/whoami', laptop));
  const listed = await rest(s, 'GET', '/admin/users/alice/keys', alice);
  const keys = ok(listed) as unknown as {
    id: string;
    label: string;
    active: boolean;
    last_used_at: number | null;
  }[];
  assert.deepEqual(
    keys.map((k) => [k.label, k.active]),
    [
      ['default', true],
      ['laptop', true],
    ],
  );
  assert.ok(
    keys.every((k) => k.last_used_at !== null),
    'both keys were used',
  );
  for (const secret of secrets) assert.ok(!listed.text.includes(secret), 'key list leaks no access key');
  const laptopId = (made['key'] as { id: string }).id;

  const rotated = ok(await rest(s, 'POST', `/admin/users/alice/keys/${laptopId}/rotate`, alice));
  const laptop2 = { username: 'alice', accessKey: rotated['access_key'] as string };
  secrets.push(laptop2.accessKey);
  assert.equal(rotated['replaced'], laptopId);
  fails(await rest(s, 'GET', '/admin/whoami', laptop), 401, 'unauthorized');
  ok(await rest(s, 'GET', '/admin/whoami', laptop2));
  const laptop2Id = (rotated['key'] as { id: string; label: string }).id;
  assert.equal((rotated['key'] as { label: string }).label, 'laptop');

  // A team admin manages the keys of its members; bob's keys are out of reach for alice.
  const revoked = ok(await rest(s, 'DELETE', `/admin/users/alice/keys/${laptop2Id}`, ta));
  assert.equal(revoked['result'], true);
  fails(await rest(s, 'GET', '/admin/whoami', laptop2), 401, 'unauthorized');
  fails(await rest(s, 'DELETE', `/admin/users/alice/keys/${laptop2Id}`, ta), 404, 'key_not_found');
  fails(await rest(s, 'GET', '/admin/users/bob/keys', alice), 404, 'user_not_found');
  fails(await rest(s, 'POST', '/admin/users/bob/keys', alice, {}), 404, 'user_not_found');
  ok(await rest(s, 'GET', '/admin/whoami', alice), 200);

  // Teams: membership changes by a team admin stay within its teams.
  fails(await rest(s, 'PUT', '/admin/teams/mobile/members/alice', ta), 403, 'forbidden');
  const both = ok(await rest(s, 'PUT', '/admin/teams/mobile/members/alice', ADMIN));
  assert.deepEqual((both['teams'] as string[]).sort(), ['mobile', 'web']);
  ok(await rest(s, 'DELETE', '/admin/teams/mobile/members/alice', ADMIN));
  const teams = ok(await rest(s, 'GET', '/admin/teams', ta)) as unknown as { name: string }[];
  assert.deepEqual(
    teams.map((x) => x.name),
    ['web'],
  );

  // Bad input: a clear error with a stable code, and nothing changes.
  const before = (ok(await rest(s, 'GET', '/admin/users', ADMIN)) as unknown as unknown[]).length;
  fails(await rest(s, 'POST', '/admin/users', ADMIN, raw('{"username": ')), 400, 'bad_json');
  fails(await rest(s, 'POST', '/admin/users', ADMIN, { username: 'a;b' }), 400, 'invalid_username');
  fails(
    await rest(s, 'POST', '/admin/users', ADMIN, { username: 'dave', role: 'king' }),
    400,
    'invalid_role',
  );
  fails(
    await rest(s, 'POST', '/admin/users', ADMIN, { username: 'dave', teams: ['nope'] }),
    404,
    'team_not_found',
  );
  fails(
    await rest(s, 'POST', '/admin/users', ADMIN, { username: 'dave', org: 'nope' }),
    404,
    'org_not_found',
  );
  fails(await rest(s, 'POST', '/admin/users', ADMIN, { username: 'alice' }), 409, 'already_exists');
  fails(await rest(s, 'PATCH', '/admin/users/alice', ADMIN, { colour: 'red' }), 400, 'invalid_request');
  fails(await rest(s, 'PATCH', '/admin/users/alice', ADMIN, { disabled: 'yes' }), 400, 'invalid_request');
  fails(await rest(s, 'GET', '/admin/nothing', ADMIN), 404, 'not_found');
  fails(await rest(s, 'GET', '/admin/users', null), 401, 'unauthorized');
  fails(
    await rest(s, 'GET', '/admin/users', { username: 'root', accessKey: 'wrong-key-123' }),
    401,
    'unauthorized',
  );
  assert.equal((ok(await rest(s, 'GET', '/admin/users', ADMIN)) as unknown as unknown[]).length, before);
  const aliceNow = ok(await rest(s, 'GET', '/admin/users/alice', ADMIN));
  assert.equal(aliceNow['disabled'], false);
  assert.equal(aliceNow['role'], 'team_member');

  // Orgs: the default org's admins create orgs and administer them.
  const acme = ok(await rest(s, 'POST', '/admin/orgs', ADMIN, { name: 'acme' }), 201);
  const eve = await createUser(s, ADMIN, { username: 'eve', role: 'org_admin', org: 'acme' });
  secrets.push(eve.accessKey);
  assert.deepEqual(
    (ok(await rest(s, 'GET', '/admin/orgs', eve)) as unknown as { id: string }[]).map((o) => o.id),
    [acme['id']],
  );
  assert.deepEqual(
    (ok(await rest(s, 'GET', '/admin/users', eve)) as unknown as { username: string }[]).map(
      (u) => u.username,
    ),
    ['eve'],
  );
  fails(await rest(s, 'PATCH', '/admin/users/alice', eve, { disabled: true }), 404, 'user_not_found');

  // No access key ever reaches the logs.
  await s.stop('SIGTERM');
  for (const secret of secrets) assert.ok(!s.logs().includes(secret), 'server output contains an access key');
  assert.match(s.logs(), /user created/);
});
