/**
 * The proxy entry's `403 tunnel_forbidden` (docs/errors.md): only for a tunnel its owner shared (`--shared all`)
 * that the role rules keep from this account (docs/roles.md). An unshared tunnel, one that does not exist, and a
 * shared one in another org all answer `403 tunnel_not_found` alike, so they cannot be told apart (docs/security.md).
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { cleanup, proxyGet, rest, startClient, startOrigin, startServer } from '../../kit/index.js';

after(cleanup);

test('tunnel_forbidden for a shared tunnel out of reach; unshared, missing and other-org tunnels are not found', async () => {
  const s = await startServer();
  const origin = await startOrigin('private app');
  for (const name of ['A', 'B'])
    assert.equal((await rest(s, 'POST', '/admin/teams', s.admin, { name })).status, 201);
  assert.equal((await rest(s, 'POST', '/admin/orgs', s.admin, { name: 'other' })).status, 201);
  const people: Record<string, { username: string; accessKey: string }> = {};
  for (const [username, role, teams, org] of [
    ['ta', 'team_admin', ['A']],
    ['ma', 'team_member', ['A']],
    ['mb', 'team_member', ['B']],
    ['ox', 'org_admin', [], 'other'],
  ] as const) {
    const r = await rest(s, 'POST', '/admin/users', s.admin, {
      username,
      role,
      teams,
      ...(org ? { org } : {}),
    });
    assert.equal(r.status, 201, r.text);
    people[username] = { username, accessKey: (r.json as { access_key: string }).access_key };
  }
  const ta = people['ta']!;
  await startClient(s, {
    ...ta,
    tunnelName: 'ta-shared',
    args: ['--shared', 'all', '--tunnel-connections', '1'],
  });
  await startClient(s, { ...ta, tunnelName: 'ta-private', args: ['--tunnel-connections', '1'] });

  const use = (who: string, tunnel: string) =>
    proxyGet(s, { ...people[who]!, tunnel, owner: 'ta' }, `${origin.url}/`);

  // The sharing reaches team A: ma uses it.
  const ok = await use('ma', 'ta-shared');
  assert.equal(ok.status, 200, ok.body);
  assert.equal(ok.body, 'private app');

  // mb (team B, same org): the tunnel is shared, but a team admin's sharing stops at the team.
  const forbidden = await use('mb', 'ta-shared');
  assert.equal(forbidden.status, 403, forbidden.body);
  assert.equal(forbidden.error, 'tunnel_forbidden');

  // Unshared, missing, and another org's: the one answer that reveals nothing.
  const notFound = [
    await use('mb', 'ta-private'),
    await use('mb', 'no-such-tunnel'),
    await use('ox', 'ta-shared'),
  ];
  for (const r of notFound) {
    assert.equal(r.status, 403, r.body);
    assert.equal(r.error, 'tunnel_not_found');
  }
  const shapes = notFound.map((r, i) =>
    r.body.replace(['ta-private', 'no-such-tunnel', 'ta-shared'][i]!, 'NAME'),
  );
  assert.equal(new Set(shapes).size, 1, `one body shape for all three: ${JSON.stringify(shapes)}`);
});
