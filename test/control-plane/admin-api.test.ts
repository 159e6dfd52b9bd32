/**
 * Admin REST API against a real sc-server: who may administer whom, keys shown once and never again, revoke and
 * rotate take effect at once, bad input changes nothing, and no access key reaches the server's logs.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ADMIN, type RestResult, type ServerProc, startServer } from './harness.js';

type Creds = { user: string; key: string };

function ok(r: RestResult, status = 200): Record<string, unknown> {
  assert.equal(r.status, status, `expected ${status}, got ${r.status}: ${r.text}`);
  return r.json as Record<string, unknown>;
}

function fails(r: RestResult, status: number, code: string): void {
  assert.equal(r.status, status, r.text);
  const body = r.json as { error?: unknown; code?: unknown };
  assert.equal(body.code, code, r.text);
  assert.equal(typeof body.error, 'string');
}

async function createUser(s: ServerProc, by: Creds, body: Record<string, unknown>): Promise<Creds> {
  const r = ok(await s.rest('POST', '/admin/users', by, body), 201);
  return { user: (r['user'] as { username: string }).username, key: r['access_key'] as string };
}

test('admin API: roles, keys shown once, revoke and rotate, bad input', async (t) => {
  const s = await startServer(t);
  const secrets: string[] = [ADMIN.key];

  ok(await s.rest('POST', '/admin/teams', ADMIN, { name: 'web' }), 201);
  ok(await s.rest('POST', '/admin/teams', ADMIN, { name: 'mobile' }), 201);
  fails(await s.rest('POST', '/admin/teams', ADMIN, { name: 'web' }), 409, 'already_exists');

  // Creating a user returns its first key exactly once, marked no-store.
  const created = await s.rest('POST', '/admin/users', ADMIN, {
    username: 'ta',
    role: 'team_admin',
    teams: ['web'],
  });
  const createdBody = ok(created, 201);
  assert.equal(created.headers['cache-control'], 'no-store');
  const ta = { user: 'ta', key: createdBody['access_key'] as string };
  assert.match(ta.key, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  const alice = await createUser(s, ADMIN, { username: 'alice', role: 'team_member', teams: ['web'] });
  const bob = await createUser(s, ADMIN, { username: 'bob', role: 'team_member', teams: ['mobile'] });
  secrets.push(ta.key, alice.key, bob.key);

  const who = ok(await s.rest('GET', '/admin/whoami', alice));
  assert.deepEqual([who['username'], who['role'], who['teams']], ['alice', 'team_member', ['web']]);

  // Team members administer no one; team admins their team's members; org admins everyone.
  assert.deepEqual(ok(await s.rest('GET', '/admin/users', alice)), []);
  fails(await s.rest('POST', '/admin/users', alice, { username: 'x1', teams: ['web'] }), 403, 'forbidden');
  fails(await s.rest('POST', '/admin/teams', ta, { name: 'ops' }), 403, 'forbidden');
  fails(await s.rest('POST', '/admin/orgs', ta, { name: 'acme' }), 403, 'forbidden');
  const carol = await createUser(s, ta, { username: 'carol', role: 'service_account', teams: ['web'] });
  secrets.push(carol.key);
  fails(await s.rest('POST', '/admin/users', ta, { username: 'x2', teams: ['mobile'] }), 403, 'forbidden');
  fails(
    await s.rest('POST', '/admin/users', ta, { username: 'x3', role: 'org_admin', teams: ['web'] }),
    403,
    'forbidden',
  );
  fails(await s.rest('POST', '/admin/users', ta, { username: 'x4' }), 403, 'forbidden');
  const taSees = (ok(await s.rest('GET', '/admin/users', ta)) as unknown as { username: string }[]).map(
    (u) => u.username,
  );
  assert.deepEqual(taSees.sort(), ['alice', 'carol']);
  const rootSees = (ok(await s.rest('GET', '/admin/users', ADMIN)) as unknown as { username: string }[]).map(
    (u) => u.username,
  );
  assert.deepEqual(rootSees.sort(), ['alice', 'bob', 'carol', 'root', 'ta']);
  fails(await s.rest('PATCH', '/admin/users/bob', ta, { disabled: true }), 404, 'user_not_found');
  fails(await s.rest('PATCH', '/admin/users/alice', ta, { role: 'team_admin' }), 403, 'forbidden');
  fails(await s.rest('PATCH', '/admin/users/root', ADMIN, { disabled: true }), 403, 'forbidden');

  // Disabling takes effect at once, even though the server caches successful authentications.
  ok(await s.rest('GET', '/admin/whoami', carol));
  ok(await s.rest('PATCH', '/admin/users/carol', ta, { disabled: true }));
  fails(await s.rest('GET', '/admin/whoami', carol), 401, 'unauthorized');
  ok(await s.rest('PATCH', '/admin/users/carol', ta, { disabled: false }));
  ok(await s.rest('GET', '/admin/whoami', carol));

  // Self-service keys: create (shown once), list without secrets, rotate, revoke.
  const made = ok(await s.rest('POST', '/admin/users/alice/keys', alice, { label: 'laptop' }), 201);
  const laptop = { user: 'alice', key: made['access_key'] as string };
  secrets.push(laptop.key);
  ok(await s.rest('GET', '/admin/whoami', laptop));
  const listed = await s.rest('GET', '/admin/users/alice/keys', alice);
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

  const rotated = ok(await s.rest('POST', `/admin/users/alice/keys/${laptopId}/rotate`, alice));
  const laptop2 = { user: 'alice', key: rotated['access_key'] as string };
  secrets.push(laptop2.key);
  assert.equal(rotated['replaced'], laptopId);
  fails(await s.rest('GET', '/admin/whoami', laptop), 401, 'unauthorized');
  ok(await s.rest('GET', '/admin/whoami', laptop2));
  const laptop2Id = (rotated['key'] as { id: string; label: string }).id;
  assert.equal((rotated['key'] as { label: string }).label, 'laptop');

  // A team admin manages the keys of its members; bob's keys are out of reach for alice.
  const revoked = ok(await s.rest('DELETE', `/admin/users/alice/keys/${laptop2Id}`, ta));
  assert.equal(revoked['result'], true);
  fails(await s.rest('GET', '/admin/whoami', laptop2), 401, 'unauthorized');
  fails(await s.rest('DELETE', `/admin/users/alice/keys/${laptop2Id}`, ta), 404, 'key_not_found');
  fails(await s.rest('GET', '/admin/users/bob/keys', alice), 404, 'user_not_found');
  fails(await s.rest('POST', '/admin/users/bob/keys', alice, {}), 404, 'user_not_found');
  ok(await s.rest('GET', '/admin/whoami', alice), 200);

  // Teams: membership changes by a team admin stay within its teams.
  fails(await s.rest('PUT', '/admin/teams/mobile/members/alice', ta), 403, 'forbidden');
  const both = ok(await s.rest('PUT', '/admin/teams/mobile/members/alice', ADMIN));
  assert.deepEqual((both['teams'] as string[]).sort(), ['mobile', 'web']);
  ok(await s.rest('DELETE', '/admin/teams/mobile/members/alice', ADMIN));
  const teams = ok(await s.rest('GET', '/admin/teams', ta)) as unknown as { name: string }[];
  assert.deepEqual(
    teams.map((x) => x.name),
    ['web'],
  );

  // Bad input: a clear error with a stable code, and nothing changes.
  const before = (ok(await s.rest('GET', '/admin/users', ADMIN)) as unknown as unknown[]).length;
  fails(await s.rest('POST', '/admin/users', ADMIN, undefined, '{"username": '), 400, 'bad_json');
  fails(await s.rest('POST', '/admin/users', ADMIN, { username: 'a;b' }), 400, 'invalid_username');
  fails(await s.rest('POST', '/admin/users', ADMIN, { username: 'dave', role: 'king' }), 400, 'invalid_role');
  fails(
    await s.rest('POST', '/admin/users', ADMIN, { username: 'dave', teams: ['nope'] }),
    404,
    'team_not_found',
  );
  fails(await s.rest('POST', '/admin/users', ADMIN, { username: 'dave', org: 'nope' }), 404, 'org_not_found');
  fails(await s.rest('POST', '/admin/users', ADMIN, { username: 'alice' }), 409, 'already_exists');
  fails(await s.rest('PATCH', '/admin/users/alice', ADMIN, { colour: 'red' }), 400, 'invalid_request');
  fails(await s.rest('PATCH', '/admin/users/alice', ADMIN, { disabled: 'yes' }), 400, 'invalid_request');
  fails(await s.rest('GET', '/admin/nothing', ADMIN), 404, 'not_found');
  fails(await s.rest('GET', '/admin/users', null), 401, 'unauthorized');
  fails(await s.rest('GET', '/admin/users', { user: 'root', key: 'wrong-key-123' }), 401, 'unauthorized');
  assert.equal((ok(await s.rest('GET', '/admin/users', ADMIN)) as unknown as unknown[]).length, before);
  const aliceNow = ok(await s.rest('GET', '/admin/users/alice', ADMIN));
  assert.equal(aliceNow['disabled'], false);
  assert.equal(aliceNow['role'], 'team_member');

  // Orgs: the default org's admins create orgs and administer them.
  const acme = ok(await s.rest('POST', '/admin/orgs', ADMIN, { name: 'acme' }), 201);
  const eve = await createUser(s, ADMIN, { username: 'eve', role: 'org_admin', org: 'acme' });
  secrets.push(eve.key);
  assert.deepEqual(
    (ok(await s.rest('GET', '/admin/orgs', eve)) as unknown as { id: string }[]).map((o) => o.id),
    [acme['id']],
  );
  assert.deepEqual(
    (ok(await s.rest('GET', '/admin/users', eve)) as unknown as { username: string }[]).map(
      (u) => u.username,
    ),
    ['eve'],
  );
  fails(await s.rest('PATCH', '/admin/users/alice', eve, { disabled: true }), 404, 'user_not_found');

  // No access key ever reaches the logs.
  await s.stop('SIGTERM');
  for (const secret of secrets) assert.ok(!s.output.includes(secret), 'server output contains an access key');
  assert.match(s.output, /user created/);
});
