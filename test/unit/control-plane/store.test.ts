/** The SQLite store and the account service over it, on a real file in a temp dir. */
import assert from 'node:assert/strict';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import {
  AccountService,
  generateAccessKey,
  hashAccessKey,
  loadOrCreateSecret,
} from '../../../src/server/accounts/index.js';
import { newId } from '../../../src/server/store/kysely-store.js';
import { knownMigrations } from '../../../src/server/store/migrations.js';
import { openSqliteStore } from '../../../src/server/store/sqlite-store.js';
import { StoreConflictError, type NewTunnel } from '../../../src/server/store/types.js';

async function tempDir(t: { after(fn: () => Promise<void>): void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'sluice-store-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

function newTunnel(ownerId: string, id: string, name = 'ci'): NewTunnel {
  return {
    id,
    owner: 'alice',
    ownerId,
    name,
    tunnelPool: true,
    shared: 'all',
    metadata: { build: 'b1', extra: { k: 'v' } },
    tunnelDomains: ['.*\\.internal'],
    directDomains: [],
    denyDomains: ['evil'],
    tlsResignDomains: [],
    tlsPassthroughDomains: ['.*'],
    tokenHash: 'abc',
    creationTime: 100,
  };
}

test('access keys are v4 UUIDs and their hash depends on the secret', () => {
  const k = generateAccessKey();
  assert.match(k, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  assert.notEqual(generateAccessKey(), k);
  const h1 = hashAccessKey(Buffer.alloc(32, 1), k);
  assert.match(h1, /^[0-9a-f]{64}$/);
  assert.notEqual(hashAccessKey(Buffer.alloc(32, 2), k), h1);
});

test('the server secret is created once with mode 0600 and a corrupt one is refused', async (t) => {
  const dir = await tempDir(t);
  const [a, b] = await Promise.all([loadOrCreateSecret(dir), loadOrCreateSecret(dir)]);
  assert.equal(a.length, 32);
  assert.deepEqual(a, b);
  assert.deepEqual(await loadOrCreateSecret(dir), a);
  assert.equal((await stat(join(dir, 'server-secret'))).mode & 0o777, 0o600);
  await writeFile(join(dir, 'server-secret'), 'not hex\n');
  await assert.rejects(loadOrCreateSecret(dir), /not a valid server secret/);
});

test('schema is migrated once, in WAL mode, and everything survives a reopen', async (t) => {
  const dir = await tempDir(t);
  const secret = await loadOrCreateSecret(dir);
  let store = await openSqliteStore(dir);
  let accounts = new AccountService(store, secret);
  const admin = await accounts.ensureAdmin();
  assert.equal(admin.created, true);
  assert.ok(admin.accessKey);
  const team = await store.createTeam({ orgId: 'default', name: 'web' });
  const alice = await accounts.createUser({ username: 'alice', role: 'team_member', teamIds: [team.id] });
  await store.insertTunnel(newTunnel(alice.account.id, 'a'.repeat(32)));
  await store.insertTunnel(newTunnel(alice.account.id, 'b'.repeat(32)));
  await store.terminateTunnel('a'.repeat(32), 'sigterm', true, 200);
  await store.terminateTunnel('a'.repeat(32), 'later', false, 300);
  await store.setSetting('k', 'v1');
  await store.setSetting('k', 'v2');
  await store.close();

  const raw = new Database(join(dir, 'sluice.db'), { readonly: true });
  t.after(() => raw.close());
  assert.equal(raw.pragma('journal_mode', { simple: true }), 'wal');
  const applied = raw.prepare('select name from kysely_migration order by name').all() as { name: string }[];
  assert.deepEqual(
    applied.map((r) => r.name),
    knownMigrations,
  );

  store = await openSqliteStore(dir);
  t.after(() => store.close());
  accounts = new AccountService(store, secret);
  assert.equal((await accounts.ensureAdmin()).created, false, 'no second admin on restart');
  assert.equal(await store.countAccounts(), 2);
  assert.equal((await accounts.authenticate('admin', admin.accessKey))?.role, 'org_admin');
  const a = await accounts.authenticate('alice', alice.key!);
  assert.deepEqual(a?.teamIds, [team.id]);
  const history = await store.listTunnels({ ownerId: alice.account.id });
  assert.deepEqual(
    history.map((h) => [h.id[0], h.status, h.shutdownReason, h.userShutdown]),
    [
      ['b', 'running', null, null],
      ['a', 'terminated', 'sigterm', true],
    ],
  );
  assert.deepEqual(history[1]!.metadata, { build: 'b1', extra: { k: 'v' } });
  assert.deepEqual(history[1]!.tlsPassthroughDomains, ['.*']);
  assert.equal(history[1]!.tunnelPool, true);
  assert.equal((await store.listTunnels({ status: 'running', limit: 1 })).length, 1);
  assert.equal((await store.listTunnels({ ownerId: alice.account.id, name: 'ci' })).length, 2);
  assert.equal((await store.listTunnels({ ownerId: alice.account.id, name: 'other' })).length, 0);
  assert.equal(await store.getSetting('k'), 'v2');
  assert.equal(await store.getSetting('missing'), null);
});

test('duplicate names are conflicts; keys authenticate until revoked; disabled accounts do not', async (t) => {
  const dir = await tempDir(t);
  const store = await openSqliteStore(dir);
  t.after(() => store.close());
  const accounts = new AccountService(store, await loadOrCreateSecret(dir));
  const bob = await accounts.createUser({ username: 'bob', role: 'team_member' });
  await assert.rejects(store.createAccount({ username: 'bob', role: 'org_admin' }), StoreConflictError);
  await store.createOrg('acme');
  await assert.rejects(store.createOrg('acme'), StoreConflictError);
  await assert.rejects(accounts.createUser({ username: 'bad;name', role: 'team_member' }), /not valid/);

  const second = await accounts.createKey(bob.account.id, 'laptop');
  assert.equal((await accounts.authenticate('bob', bob.key!))?.username, 'bob');
  assert.equal((await accounts.authenticate('bob', second.key))?.username, 'bob');
  assert.equal(await accounts.authenticate('bob', second.key + 'x'), null);
  assert.equal(await accounts.authenticate('nobody', second.key), null);
  assert.equal(await accounts.authenticate('bob', bob.key!.toUpperCase()), null);

  const keys = await accounts.listKeys(bob.account.id);
  assert.equal(keys.length, 2);
  assert.ok(keys.every((k) => !('hash' in k) && !JSON.stringify(k).includes(bob.key!)));
  assert.ok(keys[0]!.lastUsedAt !== null, 'authenticate touched last-used');

  // Cached success must not outlive a revoke.
  assert.equal(await accounts.revokeKey(bob.account.id, bob.keyInfo!.id), true);
  assert.equal(await accounts.authenticate('bob', bob.key!), null);
  assert.equal(await accounts.revokeKey(bob.account.id, bob.keyInfo!.id), false, 'already revoked');

  const rotated = await accounts.rotateKey(bob.account.id, second.info.id);
  assert.ok(rotated);
  assert.equal(rotated.info.label, 'laptop');
  assert.equal(await accounts.authenticate('bob', second.key), null);
  assert.equal((await accounts.authenticate('bob', rotated.key))?.username, 'bob');

  await accounts.setDisabled(bob.account.id, true);
  assert.equal(await accounts.authenticate('bob', rotated.key), null);
});

test('ensureAdmin uses the given credentials once and refuses junk', async (t) => {
  const dir = await tempDir(t);
  const store = await openSqliteStore(dir);
  t.after(() => store.close());
  const accounts = new AccountService(store, await loadOrCreateSecret(dir));
  await assert.rejects(accounts.ensureAdmin('root', 'short'), /access key/);
  await assert.rejects(accounts.ensureAdmin('ro:ot', 'long-enough-key'), /username/);
  assert.equal(await store.countAccounts(), 0, 'refused input changed nothing');
  assert.deepEqual(await accounts.ensureAdmin('root', 'long-enough-key'), {
    username: 'root',
    created: true,
  });
  assert.deepEqual(await accounts.ensureAdmin('root', 'other-key-12345'), {
    username: 'root',
    created: false,
  });
  assert.ok(await accounts.authenticate('root', 'long-enough-key'));
  assert.equal(await accounts.authenticate('root', 'other-key-12345'), null);
});

test('store ids are UUIDv7 and strictly increasing, so lists keep creation order', () => {
  const ids = Array.from({ length: 200 }, () => newId());
  for (const id of ids)
    assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  assert.deepEqual([...ids].sort(), ids);
});
