/**
 * The REST API's documented error codes that had no test (docs/errors.md, "REST API errors"): 405
 * method_not_allowed, 400 bad_path, 413 body_too_large; GET /rest/v1/{user}/tunnels/{id}/num_jobs; and
 * --tunnel-grace ending a tunnel whose client went away (reason client_disconnected, docs/server.md).
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  cleanup,
  listTunnels,
  raw,
  rest,
  startClient,
  startServer,
  waitFor,
  type TestServer,
} from '../../kit/index.js';

let server: TestServer;
before(async () => {
  server = await startServer({ args: ['--tunnel-grace', '1s'] });
});
after(cleanup);

interface ErrorBody {
  error: string;
  code: string;
}

test('a method a route does not take is 405 method_not_allowed and changes nothing', async () => {
  const admin = server.admin;
  const before = await listTunnels(server, admin);
  const r = await rest<ErrorBody>(server, 'PUT', `/${admin.username}/tunnels`, admin, {
    tunnel_identifier: 'x',
  });
  assert.equal(r.status, 405, r.text);
  assert.equal(r.json.code, 'method_not_allowed');
  assert.match(r.json.error, /PUT/);
  assert.deepEqual(await listTunnels(server, admin), before);
});

test('a path that does not decode is 400 bad_path', async () => {
  const r = await rest<ErrorBody>(server, 'GET', '/%E0%A4%A/tunnels', server.admin);
  assert.equal(r.status, 400, r.text);
  assert.equal(r.json.code, 'bad_path');
});

test('a body over 1 MiB is 413 body_too_large and creates nothing', async () => {
  const admin = server.admin;
  const before = await listTunnels(server, admin);
  const big = JSON.stringify({ tunnel_identifier: 'big', padding: 'x'.repeat(1024 * 1024 + 1) });
  const r = await rest<ErrorBody>(server, 'POST', `/${admin.username}/tunnels`, admin, raw(big));
  assert.equal(r.status, 413, r.text);
  assert.equal(r.json.code, 'body_too_large');
  assert.deepEqual(await listTunnels(server, admin), before);
});

test('num_jobs answers for a visible tunnel and 404 tunnel_not_found otherwise', async () => {
  const admin = server.admin;
  const made = await rest<{ id: string }>(server, 'POST', `/${admin.username}/tunnels`, admin, {
    tunnel_identifier: 'jobs',
  });
  assert.equal(made.status, 200, made.text);
  const r = await rest(server, 'GET', `/${admin.username}/tunnels/${made.json.id}/num_jobs`, admin);
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.json, { id: made.json.id, jobs_running: 0 });
  const missing = await rest<ErrorBody>(
    server,
    'GET',
    `/${admin.username}/tunnels/${'0'.repeat(32)}/num_jobs`,
    admin,
  );
  assert.equal(missing.status, 404, missing.text);
  assert.equal(missing.json.code, 'tunnel_not_found');
  assert.equal(
    (await rest(server, 'DELETE', `/${admin.username}/tunnels/${made.json.id}`, admin)).status,
    200,
  );
});

test('--tunnel-grace ends a tunnel whose client stays away: terminated, client_disconnected', async () => {
  const admin = server.admin;
  const sc = await startClient(server, { tunnelName: 'graced' });
  const id = /tunnel running id=([0-9a-f]{32})/.exec(sc.logs())?.[1];
  assert.ok(id, sc.logs());
  await sc.kill(); // no goodbye: only the grace can end it
  const ended = await waitFor('the grace to end the tunnel', async () => {
    const r = await rest<{ status: string; shutdown_reason: string | null }>(
      server,
      'GET',
      `/${admin.username}/tunnels/${id}`,
      admin,
    );
    return r.json.status === 'terminated' ? r.json : undefined;
  });
  assert.equal(ended.shutdown_reason, 'client_disconnected');
  assert.ok(!(await listTunnels(server, admin)).includes(id), 'no longer listed as running');
});
