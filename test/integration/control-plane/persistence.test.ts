/**
 * Restart persistence: accounts, keys (and their revocation), teams and tunnel history survive a restart of
 * sc-server on the same data directory; `sc-server admin` works on the store while the server runs; a live
 * tunnel comes back when its client reconnects.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { afterEach, test } from 'node:test';
import { promisify } from 'node:util';
import {
  cleanup,
  proxyGet,
  rest,
  startClient,
  startOrigin,
  startServer,
  tempDir,
  waitFor,
} from '../../kit/index.js';

afterEach(cleanup);

const run = promisify(execFile);
const SERVER_MAIN = resolve(import.meta.dirname, '../../../src/server/cli/main.js');

async function admin(
  dir: string,
  ...args: string[]
): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [
      SERVER_MAIN,
      'admin',
      ...args,
      '--data-dir',
      dir,
    ]);
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

test('accounts, keys and tunnel history survive a restart; live tunnels return with their client', async () => {
  const dir = await tempDir();
  const origin = await startOrigin('hello from origin');
  let s = await startServer({ dataDir: dir });
  const ADMIN = s.admin;
  const fingerprint = s.info.ca_fingerprint;

  assert.equal((await rest(s, 'POST', '/admin/teams', ADMIN, { name: 'web' })).status, 201);
  const made = await rest(s, 'POST', '/admin/users', ADMIN, { username: 'alice', teams: ['web'] });
  const alice = { username: 'alice', accessKey: (made.json as { access_key: string }).access_key };
  const extra = await rest(s, 'POST', '/admin/users/alice/keys', alice, { label: 'to-revoke' });
  const extraKey = (extra.json as { access_key: string; key: { id: string } }).access_key;
  const extraId = (extra.json as { key: { id: string } }).key.id;
  assert.equal((await rest(s, 'DELETE', `/admin/users/alice/keys/${extraId}`, alice)).status, 200);

  // The CLI writes to the same store while the server runs; the server sees the new key at once.
  const cli = await admin(dir, 'keys', 'create', 'alice', '--label', 'from-cli', '--json');
  assert.equal(cli.code, 0, cli.stderr);
  const cliKey = (JSON.parse(cli.stdout) as { access_key: string }).access_key;
  assert.equal((await rest(s, 'GET', '/admin/whoami', { username: 'alice', accessKey: cliKey })).status, 200);
  const bad = await admin(dir, 'users', 'create', 'x:y');
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /username/);

  // History: one tunnel stopped with a reason, one running with a live client.
  const created = await rest(s, 'POST', '/alice/tunnels', alice, { tunnel_identifier: 'old' });
  assert.equal(created.status, 200, created.text);
  const oldId = (created.json as { id: string }).id;
  assert.equal((await rest(s, 'DELETE', `/alice/tunnels/${oldId}?reason=done`, alice)).status, 200);
  const client = await startClient(s, { ...alice, tunnelName: 'live' });
  const first = await proxyGet(s, { ...alice, tunnel: 'live' }, origin.url);
  assert.equal(first.status, 200, first.body);
  assert.equal(first.body, 'hello from origin');

  // Restart on the same addresses (the client keeps dialing the edge it was given) without admin env.
  s = await s.restart({ adminUser: null, adminKey: null });
  assert.equal(s.info.ca_fingerprint, fingerprint, 'same CA after restart');
  assert.doesNotMatch(s.logs(), /created admin account/);

  assert.equal((await rest(s, 'GET', '/admin/whoami', ADMIN)).status, 200);
  const who = await rest(s, 'GET', '/admin/whoami', alice);
  assert.equal(who.status, 200);
  assert.deepEqual((who.json as { teams: string[] }).teams, ['web']);
  assert.equal((await rest(s, 'GET', '/admin/whoami', { username: 'alice', accessKey: cliKey })).status, 200);
  assert.equal(
    (await rest(s, 'GET', '/admin/whoami', { username: 'alice', accessKey: extraKey })).status,
    401,
    'still revoked',
  );
  const keys = (await rest(s, 'GET', '/admin/users/alice/keys', alice)).json as {
    label: string;
    active: boolean;
  }[];
  assert.deepEqual(
    keys.map((k) => [k.label, k.active]),
    [
      ['default', true],
      ['to-revoke', false],
      ['from-cli', true],
    ],
  );

  const history = (await rest(s, 'GET', '/alice/all_tunnels?limit=10', alice)).json as {
    tunnels: { id: string; tunnel_identifier: string; status: string; shutdown_reason: string | null }[];
  };
  const old = history.tunnels.find((x) => x.id === oldId);
  assert.ok(old, JSON.stringify(history));
  assert.equal(old.status, 'terminated');
  assert.equal(old.shutdown_reason, 'done');
  assert.ok(history.tunnels.some((x) => x.tunnel_identifier === 'live' && x.status === 'running'));

  // The client reconnects by itself and the tunnel carries traffic again.
  const again = await waitFor('tunnel usable after restart', async () => {
    const r = await proxyGet(s, { ...alice, tunnel: 'live' }, origin.url);
    return r.status === 200 ? r : undefined;
  });
  assert.equal(again.body, 'hello from origin');
  assert.ok(client.running);
  assert.equal((await client.stop('SIGTERM')).code, 0);
  for (const k of [alice.accessKey, cliKey, extraKey])
    assert.ok(!s.logs().includes(k), 'an access key reached the log');
});
