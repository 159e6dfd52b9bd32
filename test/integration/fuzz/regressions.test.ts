/** Bugs the fuzzer found, each pinned by a plain test against a real sc-server. */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { cleanup, closedPort, rest, startServer } from '../../kit/index.js';
import { runCli } from '../../fuzz/run-cli.js';

after(cleanup);

test('a REST body over 1 MiB gets the documented 413 body_too_large (it was a reset, with no answer)', async () => {
  const server = await startServer();
  for (const size of [1024 * 1024 + 1, 3 * 1024 * 1024]) {
    const r = await rest<{ code: string }>(server, 'POST', '/admin/users', server.admin, {
      username: 'x',
      pad: 'y'.repeat(size),
    });
    assert.equal(r.status, 413, r.text);
    assert.equal(r.json.code, 'body_too_large');
  }
  const users = await rest<unknown[]>(server, 'GET', '/admin/users', server.admin);
  assert.equal(users.json.length, 1);
  await server.stop();
});

test('sc refuses a whole-number setting past 2^53 (it took 1e20 tunnel connections and ran on)', async () => {
  const port = await closedPort();
  const base = ['run', '--username', 'u', '--access-key', 'k', '--region', 'us-west', '--tunnel-name', 't'];
  base.push('--rest-url', `https://127.0.0.1:${port}/rest/v1`, '--api-address', '127.0.0.1:0');
  const r = await runCli('sc', [...base, '--tunnel-connections', '99999999999999999999']);
  assert.equal(r.timedOut, false);
  assert.equal(r.code, 2, r.stdout + r.stderr);
  assert.match(r.stdout + r.stderr, /tunnel-connections.*number too large/);
});
