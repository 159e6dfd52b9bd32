/**
 * User A cannot use, list, stop or even detect B's unshared tunnel (issue 13, point 5): through the proxy entry,
 * the REST API and the admin API, "exists but not yours" is answered exactly as "does not exist".
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, test } from 'node:test';
import {
  cleanup,
  proxyGet,
  rest,
  startClient,
  startHttpApp,
  startServer,
  type Origin,
  type RestCredentials,
  type TestServer,
} from '../../kit/index.js';

let app: Origin;
let server: TestServer;
let a: RestCredentials;
let b: RestCredentials;

let bTunnelId: string;

async function member(username: string, team: string): Promise<RestCredentials> {
  const r = await rest<{ access_key: string }>(server, 'POST', '/admin/users', server.admin, {
    username,
    role: 'team_admin',
    teams: [team],
  });
  assert.equal(r.status, 201, r.text);
  return { username, accessKey: r.json.access_key };
}

before(async () => {
  app = await startHttpApp();
  server = await startServer();
  for (const name of ['TA', 'TB', 'TC']) {
    assert.equal((await rest(server, 'POST', '/admin/teams', server.admin, { name })).status, 201);
  }
  a = await member('alice', 'TA');
  b = await member('bob', 'TB');
  await member('carol', 'TC'); // exists, runs no tunnel
  await startClient(server, { tunnelName: 'secret', username: b.username, accessKey: b.accessKey });
  const list = await rest<{ id: string }[]>(server, 'GET', `/bob/tunnels?full=true`, b);
  bTunnelId = list.json[0]!.id;
  // B itself reaches its tunnel: the tunnel is there to be detected.
  const own = await proxyGet(server, { ...b, tunnel: 'secret' }, `${app.url}/hello`);
  assert.equal(own.status, 200);
});
after(cleanup);

/** What a client can observe of an answer: status, headers except Date, body. */
function observable(r: { status: number; headers: Record<string, unknown>; body?: string; text?: string }) {
  const { date: _date, ...headers } = r.headers;
  return { status: r.status, headers, body: r.body ?? r.text };
}

test("proxy entry: B's unshared tunnel answers A as a tunnel that does not exist", async () => {
  const exists = await proxyGet(server, { ...a, tunnel: 'secret', owner: 'bob' }, `${app.url}/hello`);
  const noTunnel = await proxyGet(server, { ...a, tunnel: 'secret', owner: 'carol' }, `${app.url}/hello`);
  const noUser = await proxyGet(server, { ...a, tunnel: 'secret', owner: 'nobody' }, `${app.url}/hello`);
  assert.equal(exists.status, 403);
  assert.equal(exists.error, 'tunnel_not_found');
  assert.deepEqual(observable(exists), observable(noTunnel));
  assert.deepEqual(observable(exists), observable(noUser));
  assert.equal(app.requests.filter((r) => r.headers['proxy-authorization']).length, 0);
});

test("REST: A cannot get, stop or list B's tunnel; the answers equal those for a tunnel that does not exist", async () => {
  const ghost = randomBytes(16).toString('hex');
  for (const path of [`/bob/tunnels/${bTunnelId}`, `/alice/tunnels/${bTunnelId}`]) {
    const ghostPath = path.replace(bTunnelId, ghost);
    for (const method of ['GET', 'DELETE']) {
      const real = await rest(server, method, path, a);
      const none = await rest(server, method, ghostPath, a);
      assert.equal(real.status, 404, `${method} ${path}: ${real.text}`);
      assert.deepEqual(observable(real), {
        ...observable(none),
        body: none.text.replace(ghost, bTunnelId),
      });
    }
    const jobs = await rest(server, 'GET', `${path}/num_jobs`, a);
    const noJobs = await rest(server, 'GET', `${ghostPath}/num_jobs`, a);
    assert.deepEqual(observable(jobs), {
      ...observable(noJobs),
      body: noJobs.text.replace(ghost, bTunnelId),
    });
  }
  // Listing: B's tunnel appears nowhere A can look.
  for (const path of [
    '/alice/tunnels',
    '/alice/tunnels?full=true',
    '/alice/tunnels?all=true',
    '/alice/all_tunnels',
  ]) {
    const r = await rest(server, 'GET', path, a);
    assert.equal(r.status, 200, r.text);
    assert.ok(!r.text.includes(bTunnelId) && !r.text.includes('secret'), `${path}: ${r.text}`);
  }
  const other = await rest(server, 'GET', '/bob/tunnels', a);
  const nobody = await rest(server, 'GET', '/zzz/tunnels', a);
  assert.equal(other.status, 403);
  assert.deepEqual(observable(other), { ...observable(nobody), body: nobody.text.replace('zzz', 'bob') });
  // Still running after A's attempts to stop it.
  const mine = await rest<{ status: string }>(server, 'GET', `/bob/tunnels/${bTunnelId}`, b);
  assert.equal(mine.json.status, 'running');
});

test('admin API: A (a team admin of another team) cannot detect B: same answer as for no such user', async () => {
  for (const suffix of ['', '/keys']) {
    const real = await rest(server, 'GET', `/admin/users/bob${suffix}`, a);
    const none = await rest(server, 'GET', `/admin/users/zzz${suffix}`, a);
    assert.ok(real.status >= 400 && real.status < 500, real.text);
    assert.deepEqual(observable(real), { ...observable(none), body: none.text.replace('zzz', 'bob') });
  }
  const users = await rest(server, 'GET', '/admin/users', a);
  assert.ok(!users.text.includes('"bob"'), users.text);
});
