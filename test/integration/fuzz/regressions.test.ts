/** Bugs the fuzzer found, each pinned by a plain test against a real sc-server. */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { cleanup, rest, startServer } from '../../kit/index.js';

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
