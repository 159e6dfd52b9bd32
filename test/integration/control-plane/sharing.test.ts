/**
 * The who-may-use and who-may-stop matrix over real HTTP: shared tunnels of five owners (real sc clients) used
 * through the proxy entry by eight accounts across two teams and two orgs, visibility through the REST API, and
 * stopping through REST DELETE for every (actor, owner) pair.
 */
import assert from 'node:assert/strict';
import { afterEach, test } from 'node:test';
import {
  cleanup,
  proxyGet,
  rest,
  type TestServer,
  startClient,
  startOrigin,
  startServer,
} from '../../kit/index.js';

afterEach(cleanup);

type Creds = { username: string; accessKey: string };

// Columns: the acting accounts. root is the org admin of the default org.
const ACTORS = ['root', 'ta', 'ma', 'ma2', 'sa', 'tb', 'mb', 'x'] as const;
type Who = (typeof ACTORS)[number];

// Rows: tunnel owners. Y = allowed. Same table as docs/roles.md, written out per account.
const USE_SHARED: Record<'root' | 'ta' | 'ma' | 'tb' | 'mb', string> = {
  //      root ta ma ma2 sa tb mb x
  root: '  Y   Y  Y  Y   Y  Y  Y  N',
  ta: '    Y   Y  Y  Y   Y  N  N  N',
  ma: '    Y   Y  Y  Y   Y  N  N  N',
  tb: '    Y   N  N  N   N  Y  Y  N',
  mb: '    Y   N  N  N   N  Y  Y  N',
};
const STOP: Record<'root' | 'ta' | 'ma' | 'tb' | 'mb', string> = {
  //      root ta ma ma2 sa tb mb x
  root: '  Y   N  N  N   N  N  N  N',
  ta: '    Y   Y  N  N   N  N  N  N',
  ma: '    Y   Y  Y  N   N  N  N  N',
  tb: '    Y   N  N  N   N  Y  N  N',
  mb: '    Y   N  N  N   N  Y  Y  N',
};
type Owner = keyof typeof USE_SHARED;

const cells = (spec: string): boolean[] =>
  spec
    .trim()
    .split(/\s+/)
    .map((c) => c === 'Y');

async function setup(s: TestServer): Promise<Record<Who, Creds>> {
  const ADMIN = s.admin;
  for (const name of ['A', 'B'])
    assert.equal((await rest(s, 'POST', '/admin/teams', ADMIN, { name })).status, 201);
  assert.equal((await rest(s, 'POST', '/admin/orgs', ADMIN, { name: 'acme' })).status, 201);
  const people: Partial<Record<Who, Creds>> = { root: ADMIN };
  const specs: [Who, string, string[], string?][] = [
    ['ta', 'team_admin', ['A']],
    ['ma', 'team_member', ['A']],
    ['ma2', 'team_member', ['A']],
    ['sa', 'service_account', ['A']],
    ['tb', 'team_admin', ['B']],
    ['mb', 'team_member', ['B']],
    ['x', 'org_admin', [], 'acme'],
  ];
  for (const [username, role, teams, org] of specs) {
    const r = await rest(s, 'POST', '/admin/users', ADMIN, {
      username,
      role,
      teams,
      ...(org ? { org } : {}),
    });
    assert.equal(r.status, 201, r.text);
    people[username] = { username: username, accessKey: (r.json as { access_key: string }).access_key };
  }
  return people as Record<Who, Creds>;
}

test('sharing matrix: use through the proxy entry, see and stop through REST', async () => {
  // This matrix is SC5's newer table, where team members share with their team: the server's `team` setting.
  const s = await startServer({ adminUser: 'root', args: ['--team-member-sharing', 'team'] });
  const origin = await startOrigin('private app');
  const people = await setup(s);
  const owners = Object.keys(USE_SHARED) as Owner[];

  // One shared tunnel per owner, plus a private one of ma; all with real clients.
  const ids: Record<string, string> = {};
  await Promise.all(
    owners.map((o) =>
      startClient(s, {
        ...people[o],
        tunnelName: `${o}-shared`,
        args: ['--shared', 'all', '--tunnel-connections', '1'],
      }),
    ),
  );
  await startClient(s, { ...people.ma, tunnelName: 'ma-private', args: ['--tunnel-connections', '1'] });
  for (const o of owners) {
    const list = (await rest(s, 'GET', `/${o}/tunnels?full=true`, people[o])).json as {
      id: string;
      tunnel_identifier: string;
      shared: string;
    }[];
    const mine = list.find((x) => x.tunnel_identifier === `${o}-shared`);
    assert.ok(mine, `${o} lists its tunnel: ${JSON.stringify(list)}`);
    assert.equal(mine.shared, 'all');
    ids[o] = mine.id;
  }

  // Use: every actor through every owner's shared tunnel.
  const failures: string[] = [];
  for (const o of owners) {
    const expected = cells(USE_SHARED[o]);
    for (const [i, a] of ACTORS.entries()) {
      const r = await proxyGet(s, { ...people[a], tunnel: `${o}-shared`, owner: o }, origin.url);
      const allowed = r.status === 200 && r.body === 'private app';
      if (allowed !== expected[i]) failures.push(`${a} via ${o}-shared: ${r.status} ${r.error ?? ''}`);
      if (!allowed && r.status !== 403)
        failures.push(`${a} via ${o}-shared: refused with ${r.status}, not 403`);
    }
  }
  // The private tunnel serves its owner only; owner= pointing at oneself is the same as no owner.
  for (const a of ACTORS) {
    const r = await proxyGet(s, { ...people[a], tunnel: 'ma-private', owner: 'ma' }, origin.url);
    if ((r.status === 200) !== (a === 'ma')) failures.push(`${a} via ma-private: ${r.status}`);
  }
  assert.equal((await proxyGet(s, { ...people.ma, tunnel: 'ma-private' }, origin.url)).status, 200);
  assert.equal(failures.join('\n'), '');

  // Visibility through REST: a tunnel is visible (GET 200) to those who may use or stop it, else 404.
  for (const o of owners) {
    const use = cells(USE_SHARED[o]);
    const stop = cells(STOP[o]);
    for (const [i, a] of ACTORS.entries()) {
      const r = await rest(s, 'GET', `/${o}/tunnels/${ids[o]}`, people[a]);
      const expected = use[i] || stop[i] ? 200 : 404;
      if (r.status !== expected) failures.push(`${a} GET ${o}'s tunnel: ${r.status}, expected ${expected}`);
    }
  }
  // all=true: a map by owner of the running tunnels the caller may use.
  const seen = (await rest(s, 'GET', '/ma2/tunnels?all=true', people.ma2)).json as Record<string, string[]>;
  assert.deepEqual(Object.keys(seen).sort(), ['ma', 'root', 'ta']);
  assert.deepEqual(seen['ma'], [ids['ma']], 'the private tunnel is not listed for others');
  assert.equal(failures.join('\n'), '');

  // Stop: for every pair, a fresh REST-created tunnel of the owner; DELETE as the actor.
  for (const o of owners) {
    const expected = cells(STOP[o]);
    for (const [i, a] of ACTORS.entries()) {
      const made = await rest(s, 'POST', `/${o}/tunnels`, people[o], {
        tunnel_identifier: `stop-${o}-by-${a}`,
        shared: 'all',
      });
      assert.equal(made.status, 200, made.text);
      const id = (made.json as { id: string }).id;
      const del = await rest(s, 'DELETE', `/${o}/tunnels/${id}?reason=matrix`, people[a]);
      const after = (await rest(s, 'GET', `/${o}/tunnels/${id}`, people[o])).json as { status: string };
      if ((del.status === 200) !== expected[i]) failures.push(`${a} DELETE ${o}'s tunnel: ${del.status}`);
      if (del.status !== 200 && ![403, 404].includes(del.status)) failures.push(`${a} DELETE: ${del.status}`);
      if ((after.status === 'terminated') !== expected[i])
        failures.push(`${a} stop ${o}: status ${after.status}`);
    }
  }
  assert.equal(failures.join('\n'), '');

  // Service accounts cannot start tunnels.
  const refused = await rest(s, 'POST', '/sa/tunnels', people.sa, { tunnel_identifier: 'nope' });
  assert.equal(refused.status, 403);
  assert.equal((refused.json as { code: string }).code, 'role_forbidden');
});
