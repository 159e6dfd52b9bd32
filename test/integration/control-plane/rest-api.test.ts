/** Issue 2: the tunnels REST API in Sauce Labs' shapes, and 401 JSON for wrong credentials that changes nothing. */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  cleanup,
  listTunnels,
  listTunnelsFull,
  rest,
  startServer,
  type TestServer,
} from '../../kit/index.js';

let server: TestServer;
let admin: TestServer['admin'];

before(async () => {
  server = await startServer();
  admin = server.admin;
});
after(cleanup);

interface Tunnel {
  id: string;
  tunnel_identifier: string;
  owner: string;
  status: string;
  metadata: Record<string, unknown>;
  shared_tunnel: boolean;
  tunnel_pool: boolean;
}

test('create, list, list full, get, delete', async () => {
  const created = await rest<Tunnel & { connection_token?: string }>(
    server,
    'POST',
    `/${admin.username}/tunnels`,
    admin,
    {
      tunnel_identifier: 'rest-1',
      tunnel_pool: false,
      shared: '',
      metadata: { hostname: 'e2e', release: '5.2.0' },
    },
  );
  assert.equal(created.status, 200, created.text);
  const t = created.json;
  assert.match(t.id, /^[0-9a-f]{32}$/);
  assert.equal(t.tunnel_identifier, 'rest-1');
  assert.equal(t.owner, admin.username);
  assert.equal(t.status, 'running');
  assert.equal(t.tunnel_pool, false);

  assert.deepEqual(await listTunnels(server, admin), [t.id]);
  const full = await listTunnelsFull(server, admin);
  assert.equal(full.length, 1);
  assert.equal(full[0]!['id'], t.id);
  assert.equal(full[0]!['tunnel_identifier'], 'rest-1');
  assert.equal(full[0]!['connection_token'], undefined, 'the connection token is only returned on create');

  const got = await rest<Tunnel>(server, 'GET', `/${admin.username}/tunnels/${t.id}`, admin);
  assert.equal(got.status, 200);
  assert.equal(got.json.id, t.id);
  assert.equal(got.json.tunnel_identifier, 'rest-1');
  assert.equal(got.json.metadata['hostname'], 'e2e');

  const del = await rest(server, 'DELETE', `/${admin.username}/tunnels/${t.id}`, admin);
  assert.equal(del.status, 200, del.text);
  assert.deepEqual(del.json, { result: true, id: t.id, jobs_running: 0 });
  assert.deepEqual(await listTunnels(server, admin), []);
});

test('wrong credentials get 401 JSON and change nothing', async () => {
  const keep = await rest<Tunnel>(server, 'POST', `/${admin.username}/tunnels`, admin, {
    tunnel_identifier: 'keep',
  });
  assert.equal(keep.status, 200);
  const before = await listTunnels(server, admin);
  const bad = { username: admin.username, accessKey: 'wrong-key-123456' };

  const calls: [string, string, unknown?][] = [
    ['GET', `/${admin.username}/tunnels`],
    ['POST', `/${admin.username}/tunnels`, { tunnel_identifier: 'sneaky' }],
    ['DELETE', `/${admin.username}/tunnels/${keep.json.id}`],
  ];
  for (const [method, path, body] of calls) {
    const r = await rest<{ error: string; code: string }>(server, method, path, bad, body);
    assert.equal(r.status, 401, `${method} ${path}: ${r.text}`);
    assert.match(String(r.headers['content-type']), /application\/json/);
    assert.equal(typeof r.json.error, 'string');
    assert.equal(typeof r.json.code, 'string');
    assert.ok(!r.text.includes('wrong-key-123456'), 'the key must not be echoed');
  }
  const none = await rest(server, 'GET', `/${admin.username}/tunnels`, null);
  assert.equal(none.status, 401, 'no credentials at all');

  assert.deepEqual(await listTunnels(server, admin), before, 'a refused call changed the tunnel list');
  assert.ok(!server.logs().includes('wrong-key-123456'), 'the key must not be logged');
});

test('a malformed create body is 400 invalid_request naming the problem', async () => {
  const before = await listTunnels(server, admin);
  const r = await rest<{ error: string; code: string }>(server, 'POST', `/${admin.username}/tunnels`, admin, {
    tunnel_identifier: 42,
  });
  // docs/errors.md: a body of the wrong shape is 400 invalid_request (bad_json is for text that is not JSON).
  assert.equal(r.status, 400, r.text);
  assert.equal(r.json.code, 'invalid_request');
  assert.match(r.json.error, /tunnel_identifier/);
  assert.deepEqual(await listTunnels(server, admin), before);
});
