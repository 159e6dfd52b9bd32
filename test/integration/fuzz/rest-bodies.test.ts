/**
 * Property: hostile bodies on the tunnels create call and the admin user, key, team and org calls get a 2xx or a
 * clear JSON 4xx with a code, never a 5xx or a hang; a refused body creates no user; sc-server keeps running and a
 * real tunnel keeps serving after every batch. Seed and runs: test/fuzz/settings.ts.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import fc from 'fast-check';
import {
  cleanup,
  rest,
  startClient,
  startHttpApp,
  startServer,
  type Origin,
  type TestClient,
  type TestServer,
} from '../../kit/index.js';
import { healthy } from '../../fuzz/checks.js';
import { restInputArb, restRaw, TARGETS } from '../../fuzz/rest-bodies.js';
import { assertProperty, params } from '../../fuzz/settings.js';

after(cleanup);

const TUNNEL = 'fuzz-rest-health';
let server: TestServer;
let client: TestClient;
let app: Origin;

before(async () => {
  server = await startServer();
  app = await startHttpApp();
  const made = await rest(server, 'POST', '/admin/users', server.admin, { username: 'fuzz-victim' });
  assert.equal(made.status, 201, made.text);
  client = await startClient(server, { tunnelName: TUNNEL });
});

test('REST and admin bodies: a clear 4xx or success, never a 5xx, and refused bodies change nothing', async () => {
  const admin = { username: server.admin.username, accessKey: server.admin.accessKey };
  const byStatus = new Map<number, number>();
  const countUsers = async (): Promise<number> => {
    const r = await rest<unknown[]>(server, 'GET', '/admin/users', admin);
    assert.equal(r.status, 200, r.text);
    return r.json.length;
  };
  await assertProperty(
    fc.asyncProperty(
      fc.array(restInputArb(TARGETS(admin.username, 'fuzz-victim')), { minLength: 10, maxLength: 10 }),
      async (batch) => {
        const before = await countUsers();
        const answers = await Promise.all(batch.map((input) => restRaw(server, admin, input)));
        let created = 0;
        answers.forEach((a, i) => {
          const input = batch[i]!;
          byStatus.set(a.status, (byStatus.get(a.status) ?? 0) + 1);
          // Over the 1 MiB limit the server answers 413 and closes; a client still writing may see the reset first.
          if (a.status === 0 && input.body.length > 1024 * 1024 && /ECONNRESET|EPIPE/.test(a.error ?? ''))
            return;
          assert.ok(a.status >= 200 && a.status < 500, `${a.status} ${a.error ?? a.text} for ${input.label}`);
          if (a.status >= 400) {
            const body = JSON.parse(a.text) as { code?: unknown; error?: unknown };
            assert.equal(typeof body.code, 'string', `no error code: ${a.text}`);
            assert.ok(typeof body.error === 'string' && body.error.length > 0, a.text);
            assert.doesNotMatch(a.text, /\bat .*\.js:\d+/, 'a stack trace in an error');
          }
          if (a.status === 201 && input.target.path === '/admin/users') created++;
        });
        assert.equal(await countUsers(), before + created, 'users created by refused bodies');
        await healthy(server, client, TUNNEL, app.url);
      },
    ),
    params('REST bodies', 20),
  );
  const parts = [...byStatus.entries()].sort((a, b) => a[0] - b[0]).map(([k, v]) => `${k}=${v}`);
  process.stdout.write(`# REST bodies: ${parts.join(' ')}\n`);
});
