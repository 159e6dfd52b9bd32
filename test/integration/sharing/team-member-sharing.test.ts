/**
 * The seed's sharing rule by default, SC5's newer table as a server setting (docs/roles.md): a team member's
 * `sc run --shared all` tunnel. Under the default (`--team-member-sharing none`) the tunnel is created unshared,
 * sc logs the server's warning, REST reports it unshared and a teammate can neither use it through the proxy
 * entry nor see it in `?all=true`; a team admin's shared tunnel still serves the team. Under `team` (given by
 * SC_TEAM_MEMBER_SHARING here) the teammate uses and sees it.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, before, test } from 'node:test';
import {
  SERVER_MAIN,
  cleanup,
  proxyRequest,
  rest,
  startClient,
  startHttpApp,
  startServer,
  tempDir,
  type Origin,
  type RestCredentials,
  type TestServer,
  waitFor,
} from '../../kit/index.js';

let app: Origin;
before(async () => {
  app = await startHttpApp();
});
after(cleanup);

interface People {
  ta: RestCredentials;
  ma: RestCredentials;
  ma2: RestCredentials;
  mb: RestCredentials;
}

/** Team A with a team admin and two members, team B with one member. */
async function people(server: TestServer): Promise<People> {
  for (const name of ['A', 'B']) {
    const r = await rest(server, 'POST', '/admin/teams', server.admin, { name });
    assert.equal(r.status, 201, r.text);
  }
  const out: Partial<People> = {};
  const specs: [keyof People, string, string][] = [
    ['ta', 'team_admin', 'A'],
    ['ma', 'team_member', 'A'],
    ['ma2', 'team_member', 'A'],
    ['mb', 'team_member', 'B'],
  ];
  for (const [username, role, team] of specs) {
    const r = await rest<{ access_key: string }>(server, 'POST', '/admin/users', server.admin, {
      username,
      role,
      teams: [team],
    });
    assert.equal(r.status, 201, r.text);
    out[username] = { username, accessKey: r.json.access_key };
  }
  return out as People;
}

const via = (server: TestServer, who: RestCredentials, tunnel: string, owner: string): Promise<number> =>
  proxyRequest(server, { ...who, tunnel, owner }, { url: `${app.url}/shared-probe` }).then((r) => r.status);

async function tunnelOf(
  server: TestServer,
  who: RestCredentials,
  name: string,
): Promise<Record<string, unknown>> {
  const r = await rest<Record<string, unknown>[]>(server, 'GET', `/${who.username}/tunnels?full=true`, who);
  const t = r.json.find((x) => x['tunnel_identifier'] === name);
  assert.ok(t, `${who.username} lists ${name}: ${r.text}`);
  return t;
}

async function sharedListing(server: TestServer, who: RestCredentials): Promise<Record<string, string[]>> {
  const r = await rest<Record<string, string[]>>(server, 'GET', `/${who.username}/tunnels?all=true`, who);
  assert.equal(r.status, 200, r.text);
  return r.json;
}

test('default: a team member’s --shared all tunnel serves its owner only, with a warning', async () => {
  const server = await startServer();
  const p = await people(server);
  const sc = await startClient(server, { ...p.ma, tunnelName: 'ma-ci', args: ['--shared', 'all'] });
  assert.match(sc.logs(), /warning: --shared all ignored: a team_member cannot share tunnels/);
  const mine = await tunnelOf(server, p.ma, 'ma-ci');
  assert.equal(mine['shared'], '');
  assert.equal(mine['shared_tunnel'], false);

  assert.equal(await via(server, p.ma, 'ma-ci', 'ma'), 200, 'the owner uses it');
  assert.equal(await via(server, p.ma2, 'ma-ci', 'ma'), 403, 'a teammate does not');
  assert.equal(await via(server, p.ta, 'ma-ci', 'ma'), 403, 'nor the team admin');
  assert.equal(await via(server, server.admin, 'ma-ci', 'ma'), 403, 'nor the org admin');
  assert.deepEqual(Object.keys(await sharedListing(server, p.ma2)), [], 'not listed for the teammate');
  const byId = await rest(server, 'GET', `/ma/tunnels/${String(mine['id'])}`, p.ma2);
  assert.equal(byId.status, 404, byId.text);

  // A team admin still shares with the team, not beyond it.
  const ta = await startClient(server, { ...p.ta, tunnelName: 'ta-ci', args: ['--shared', 'all'] });
  assert.doesNotMatch(ta.logs(), /--shared all ignored/);
  assert.equal((await tunnelOf(server, p.ta, 'ta-ci'))['shared'], 'all');
  assert.equal(await via(server, p.ma2, 'ta-ci', 'ta'), 200);
  assert.equal(await via(server, p.mb, 'ta-ci', 'ta'), 403);
  const seen = await sharedListing(server, p.ma2);
  assert.deepEqual(Object.keys(seen), ['ta']);
  await Promise.all([sc.stop(), ta.stop()]);
});

test('SC_TEAM_MEMBER_SHARING=team: a team member’s shared tunnel serves the team', async () => {
  const server = await startServer({ env: { SC_TEAM_MEMBER_SHARING: 'team' } });
  const p = await people(server);
  const sc = await startClient(server, { ...p.ma, tunnelName: 'ma-ci', args: ['--shared', 'all'] });
  assert.doesNotMatch(sc.logs(), /--shared all ignored/);
  const mine = await tunnelOf(server, p.ma, 'ma-ci');
  assert.equal(mine['shared'], 'all');
  assert.equal(await via(server, p.ma2, 'ma-ci', 'ma'), 200, 'a teammate uses it');
  assert.equal(await via(server, p.mb, 'ma-ci', 'ma'), 403, 'another team does not');
  assert.deepEqual(await sharedListing(server, p.ma2), { ma: [mine['id']] });
  await sc.stop();
});

test('a tunnel shared under `team` stops serving teammates after a restart with the default', async () => {
  const server = await startServer({ args: ['--team-member-sharing', 'team'] });
  const p = await people(server);
  const sc = await startClient(server, { ...p.ma, tunnelName: 'ma-ci', args: ['--shared', 'all'] });
  assert.equal(await via(server, p.ma2, 'ma-ci', 'ma'), 200);
  const again = await server.restart({ args: [] });
  // sc redials the restarted server on its own; the owner's requests go through once it is back.
  await waitFor(
    'sc back on the restarted server',
    async () => (await via(again, p.ma, 'ma-ci', 'ma')) === 200,
  );
  assert.equal(await via(again, p.ma2, 'ma-ci', 'ma'), 403, 'the teammate no longer does');
  assert.deepEqual(Object.keys(await sharedListing(again, p.ma2)), []);
  await sc.stop();
});

test('--team-member-sharing takes none or team only', async () => {
  const dir = await tempDir('sluice-sharing-');
  for (const [args, env] of [
    [['--team-member-sharing', 'all'], {}],
    [[], { SC_TEAM_MEMBER_SHARING: 'yes' }],
  ] as [string[], Record<string, string>][]) {
    const r = spawnSync(process.execPath, [SERVER_MAIN, 'start', '--data-dir', `${dir}/d`, ...args], {
      env: { ...process.env, ...env },
      encoding: 'utf8',
      timeout: 20_000,
    });
    assert.equal(r.status, 2, r.stderr);
    assert.match(
      r.stderr,
      /invalid value "(all|yes)" for --team-member-sharing .*allowed values: none, team/,
    );
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
  }
});
