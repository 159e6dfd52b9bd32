/**
 * Restart persistence: accounts, keys (and their revocation), teams and tunnel history survive a restart of
 * sc-server on the same data directory; `sc-server admin` works on the store while the server runs; a live
 * tunnel comes back when its client reconnects.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { ADMIN, startClient, startOrigin, startServer, tempDir, waitFor } from './harness.js';

const run = promisify(execFile);
const SERVER_MAIN = resolve(import.meta.dirname, '../../src/server/cli/main.js');

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

test('accounts, keys and tunnel history survive a restart; live tunnels return with their client', async (t) => {
  const dir = await tempDir(t);
  const origin = await startOrigin(t, 'hello from origin');
  let s = await startServer(t, { dataDir: dir });
  const fingerprint = s.info.ca_fingerprint;

  assert.equal((await s.rest('POST', '/admin/teams', ADMIN, { name: 'web' })).status, 201);
  const made = await s.rest('POST', '/admin/users', ADMIN, { username: 'alice', teams: ['web'] });
  const alice = { user: 'alice', key: (made.json as { access_key: string }).access_key };
  const extra = await s.rest('POST', '/admin/users/alice/keys', alice, { label: 'to-revoke' });
  const extraKey = (extra.json as { access_key: string; key: { id: string } }).access_key;
  const extraId = (extra.json as { key: { id: string } }).key.id;
  assert.equal((await s.rest('DELETE', `/admin/users/alice/keys/${extraId}`, alice)).status, 200);

  // The CLI writes to the same store while the server runs; the server sees the new key at once.
  const cli = await admin(dir, 'keys', 'create', 'alice', '--label', 'from-cli', '--json');
  assert.equal(cli.code, 0, cli.stderr);
  const cliKey = (JSON.parse(cli.stdout) as { access_key: string }).access_key;
  assert.equal((await s.rest('GET', '/admin/whoami', { user: 'alice', key: cliKey })).status, 200);
  const bad = await admin(dir, 'users', 'create', 'x:y');
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /username/);

  // History: one tunnel stopped with a reason, one running with a live client.
  const created = await s.rest('POST', '/alice/tunnels', alice, { tunnel_identifier: 'old' });
  assert.equal(created.status, 200, created.text);
  const oldId = (created.json as { id: string }).id;
  assert.equal((await s.rest('DELETE', `/alice/tunnels/${oldId}?reason=done`, alice)).status, 200);
  const client = await startClient(t, s, { ...alice, name: 'live' });
  const first = await s.proxyGet({ ...alice, tunnel: 'live' }, origin.url);
  assert.equal(first.status, 200, first.body);
  assert.equal(first.body, 'hello from origin');

  // Restart on the same addresses (the client keeps dialing the edge it was given) without admin env.
  const addrs = s.info;
  assert.equal(await s.stop('SIGTERM'), 0);
  s = await startServer(t, {
    dataDir: dir,
    env: { SC_ADMIN_USERNAME: '', SC_ADMIN_ACCESS_KEY: '' },
    args: [
      '--rest-address',
      new URL(addrs.rest_url).host,
      '--proxy-address',
      addrs.proxy_address,
      '--edge-address',
      addrs.edge_address,
    ],
  });
  assert.equal(s.info.ca_fingerprint, fingerprint, 'same CA after restart');
  assert.doesNotMatch(s.output, /created admin account/);

  assert.equal((await s.rest('GET', '/admin/whoami', ADMIN)).status, 200);
  const who = await s.rest('GET', '/admin/whoami', alice);
  assert.equal(who.status, 200);
  assert.deepEqual((who.json as { teams: string[] }).teams, ['web']);
  assert.equal((await s.rest('GET', '/admin/whoami', { user: 'alice', key: cliKey })).status, 200);
  assert.equal(
    (await s.rest('GET', '/admin/whoami', { user: 'alice', key: extraKey })).status,
    401,
    'still revoked',
  );
  const keys = (await s.rest('GET', '/admin/users/alice/keys', alice)).json as {
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

  const history = (await s.rest('GET', '/alice/all_tunnels?limit=10', alice)).json as {
    tunnels: { id: string; tunnel_identifier: string; status: string; shutdown_reason: string | null }[];
  };
  const old = history.tunnels.find((x) => x.id === oldId);
  assert.ok(old, JSON.stringify(history));
  assert.equal(old.status, 'terminated');
  assert.equal(old.shutdown_reason, 'done');
  assert.ok(history.tunnels.some((x) => x.tunnel_identifier === 'live' && x.status === 'running'));

  // The client reconnects by itself and the tunnel carries traffic again.
  const again = await waitFor('tunnel usable after restart', async () => {
    const r = await s.proxyGet({ ...alice, tunnel: 'live' }, origin.url);
    return r.status === 200 ? r : undefined;
  });
  assert.equal(again.body, 'hello from origin');
  assert.ok(client.running);
  assert.equal(await client.stop('SIGTERM'), 0);
  for (const k of [alice.key, cliKey, extraKey])
    assert.ok(!s.output.includes(k), 'an access key reached the log');
});
