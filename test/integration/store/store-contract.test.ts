/**
 * One suite, every Store method, run against both stores: the embedded SQLite file and a real PostgreSQL
 * (Debian's server in a temp dir, test/kit/postgres.ts), each test on a fresh database. What one backend
 * returns the other must return too: types (numbers, booleans, JSON), ordering, conflicts, no-op updates.
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { AccountService, loadOrCreateSecret } from '../../../src/server/accounts/index.js';
import { knownMigrations } from '../../../src/server/store/migrations.js';
import { openPostgresStore } from '../../../src/server/store/postgres-store.js';
import { openSqliteStore } from '../../../src/server/store/sqlite-store.js';
import {
  StoreConflictError,
  type NewTunnel,
  type Store,
  type WebDriverSession,
} from '../../../src/server/store/types.js';
import { cleanup, tempDir } from '../../kit/index.js';
import { postgresMissing, startPostgres, type Postgres } from '../../kit/postgres.js';

after(cleanup);

let pg: Promise<Postgres> | null = null;
const postgres = (): Promise<Postgres> => (pg ??= startPostgres());

interface Backend {
  name: string;
  skip: string | false;
  /** A fresh, migrated store, closed after the test. */
  open(t: { after(fn: () => Promise<void>): void }): Promise<Store>;
  /** Opens the same database again (a restart, another node). */
  reopen(): Promise<Store>;
}

function sqliteBackend(): Backend {
  let dir = '';
  return {
    name: 'sqlite',
    skip: false,
    async open(t) {
      dir = await tempDir('sluice-store-');
      const s = await openSqliteStore(dir);
      t.after(() => s.close());
      return s;
    },
    reopen: () => openSqliteStore(dir),
  };
}

function postgresBackend(): Backend {
  let url = '';
  return {
    name: 'postgres',
    skip: postgresMissing(),
    async open(t) {
      url = await (await postgres()).newDatabase('contract');
      const s = await openPostgresStore(url, { poolSize: 4 });
      t.after(() => s.close());
      return s;
    },
    reopen: () => openPostgresStore(url, { poolSize: 4 }),
  };
}

function newTunnel(ownerId: string, id: string, name = 'ci', over: Partial<NewTunnel> = {}): NewTunnel {
  return {
    id,
    owner: 'alice',
    ownerId,
    name,
    tunnelPool: true,
    shared: 'all',
    metadata: { build: 'b1', nested: { k: 'v', n: 2, ok: true }, text: 'it\'s "quoted" ünïcode' },
    tunnelDomains: ['.*\\.internal'],
    directDomains: [],
    denyDomains: ['evil'],
    tlsResignDomains: ['a.test'],
    tlsPassthroughDomains: ['.*'],
    tokenHash: 'abc',
    creationTime: 1_700_000_000,
    ...over,
  };
}

function session(id: string, accountId: string, over: Partial<WebDriverSession> = {}): WebDriverSession {
  return {
    id,
    accountId,
    tunnelOwnerId: accountId,
    tunnelName: 'ci',
    ownTunnel: true,
    proxyPort: 40000,
    upstreamUrl: 'http://127.0.0.1:1/wd/hub',
    upstreamSessionId: null,
    upstreamWsUrl: null,
    status: 'starting',
    createdAt: 1_700_000_000_000,
    lastUsedAt: 1_700_000_000_000,
    ...over,
  };
}

for (const make of [sqliteBackend, postgresBackend]) {
  const b = make();
  describe(`store contract: ${b.name}`, { skip: b.skip }, () => {
    test('accounts: create, find, list by org and team, update, teams, count', async (t) => {
      const s = await b.open(t);
      assert.equal(await s.countAccounts(), 0);
      const acme = await s.createOrg('acme');
      const web = await s.createTeam({ orgId: 'default', name: 'web' });
      const api = await s.createTeam({ orgId: 'default', name: 'api' });
      const alice = await s.createAccount({
        username: 'alice',
        role: 'team_member',
        teamIds: [web.id, web.id],
      });
      const bob = await s.createAccount({ username: 'bob', role: 'team_admin', orgId: acme.id });
      assert.deepEqual(alice.teamIds, [web.id]);
      assert.equal(alice.orgId, 'default');
      assert.equal(alice.disabled, false);
      assert.equal(typeof alice.createdAt, 'number');
      assert.deepEqual(await s.getAccountByUsername('alice'), alice);
      assert.deepEqual(await s.getAccountById(bob.id), bob);
      assert.equal(await s.getAccountByUsername('nobody'), null);
      assert.equal(await s.getAccountById('nope'), null);
      assert.equal(await s.countAccounts(), 2);
      assert.deepEqual(
        (await s.listAccounts()).map((a) => a.username),
        ['alice', 'bob'],
      );
      assert.deepEqual(
        (await s.listAccounts({ orgId: acme.id })).map((a) => a.username),
        ['bob'],
      );
      assert.deepEqual(
        (await s.listAccounts({ teamId: web.id })).map((a) => a.username),
        ['alice'],
      );
      await assert.rejects(s.createAccount({ username: 'alice', role: 'org_admin' }), StoreConflictError);
      const changed = await s.updateAccount(alice.id, { role: 'team_admin', disabled: true });
      assert.equal(changed?.role, 'team_admin');
      assert.equal(changed?.disabled, true);
      assert.deepEqual(await s.updateAccount(alice.id, {}), changed);
      assert.equal(await s.updateAccount('nope', { disabled: true }), null);
      await s.setAccountTeams(alice.id, [api.id, web.id, api.id]);
      assert.deepEqual((await s.getAccountById(alice.id))?.teamIds, [api.id, web.id].sort());
      await s.setAccountTeams(alice.id, []);
      assert.deepEqual((await s.getAccountById(alice.id))?.teamIds, []);
      assert.equal(await s.countAccounts(), 2, 'a refused duplicate added nothing');
    });

    test('orgs and teams: unique names, lookups, lists', async (t) => {
      const s = await b.open(t);
      const acme = await s.createOrg('acme');
      await assert.rejects(s.createOrg('acme'), StoreConflictError);
      assert.deepEqual(await s.getOrg(acme.id), acme);
      assert.deepEqual(await s.getOrgByName('acme'), acme);
      assert.equal(await s.getOrg('nope'), null);
      // Ordered by creation second, then id (the seeded default org may share acme's second).
      assert.deepEqual((await s.listOrgs()).map((o) => o.name).sort(), ['acme', 'default']);
      const t1 = await s.createTeam({ orgId: acme.id, name: 'web' });
      const t2 = await s.createTeam({ orgId: 'default', name: 'web' });
      await assert.rejects(s.createTeam({ orgId: acme.id, name: 'web' }), StoreConflictError);
      assert.deepEqual(await s.getTeam(t1.id), t1);
      assert.deepEqual(await s.getTeamByName('default', 'web'), t2);
      assert.equal(await s.getTeamByName(acme.id, 'api'), null);
      assert.deepEqual(
        (await s.listTeams()).map((x) => x.id),
        [t1.id, t2.id],
      );
      assert.deepEqual(
        (await s.listTeams(acme.id)).map((x) => x.id),
        [t1.id],
      );
    });

    test('access keys: add, hashes, rehash, touch, list, revoke once', async (t) => {
      const s = await b.open(t);
      const a = await s.createAccount({ username: 'alice', role: 'team_member' });
      const k1 = await s.addAccessKey(a.id, 'h1', 'laptop');
      const k2 = await s.addAccessKey(a.id, 'h2', 'ci');
      assert.equal(k1.lastUsedAt, null);
      assert.deepEqual(await s.activeKeyHashes(a.id), [
        { id: k1.id, hash: 'h1' },
        { id: k2.id, hash: 'h2' },
      ]);
      await s.setAccessKeyHash(k1.id, 'h1b');
      await s.touchAccessKey(k1.id, 1234);
      assert.deepEqual(await s.getAccessKey(k1.id), { ...k1, lastUsedAt: 1234 });
      assert.equal(await s.getAccessKey('nope'), null);
      assert.equal(await s.revokeAccessKey(k2.id, 99), true);
      assert.equal(await s.revokeAccessKey(k2.id, 100), false);
      assert.equal(await s.revokeAccessKey('nope', 100), false);
      assert.deepEqual(await s.activeKeyHashes(a.id), [{ id: k1.id, hash: 'h1b' }]);
      const all = await s.listAccessKeys(a.id);
      assert.deepEqual(
        all.map((k) => [k.label, k.revokedAt]),
        [
          ['laptop', null],
          ['ci', 99],
        ],
      );
    });

    test('tunnels: insert, JSON and booleans round-trip, history order, filters, terminate once, prune', async (t) => {
      const s = await b.open(t);
      const a = await s.createAccount({ username: 'alice', role: 'team_member' });
      const first = await s.insertTunnel(newTunnel(a.id, 'a'.repeat(32)));
      assert.equal(first.status, 'running');
      assert.equal(first.tunnelPool, true);
      assert.equal(first.userShutdown, null);
      assert.deepEqual(first.metadata, newTunnel(a.id, 'x').metadata);
      assert.deepEqual(first.tlsResignDomains, ['a.test']);
      assert.equal(first.creationTime, 1_700_000_000);
      await assert.rejects(s.insertTunnel(newTunnel(a.id, 'a'.repeat(32))));
      await s.insertTunnel(newTunnel(a.id, 'b'.repeat(32), 'ci', { tunnelPool: false, shared: '' }));
      await s.insertTunnel(newTunnel(a.id, 'c'.repeat(32), 'other'));
      assert.deepEqual(
        (await s.listTunnels({ ownerId: a.id })).map((x) => x.id[0]),
        ['c', 'b', 'a'],
      );
      assert.deepEqual(
        (await s.listTunnels({ ownerId: a.id, name: 'ci', limit: 1 })).map((x) => x.id[0]),
        ['b'],
      );
      const b2 = await s.getTunnel('b'.repeat(32));
      assert.equal(b2?.tunnelPool, false);
      assert.equal(b2?.shared, '');
      assert.equal(await s.getTunnel('nope'), null);
      await s.markTunnelConnected('a'.repeat(32), 555);
      await s.terminateTunnel('a'.repeat(32), 'sigterm', true, 600);
      await s.terminateTunnel('a'.repeat(32), 'later', false, 700);
      const a2 = await s.getTunnel('a'.repeat(32));
      assert.deepEqual(
        [a2?.status, a2?.lastConnected, a2?.shutdownTime, a2?.shutdownReason, a2?.userShutdown],
        ['terminated', 555, 600, 'sigterm', true],
      );
      assert.equal((await s.listTunnels({ status: 'running' })).length, 2);
      await s.terminateTunnel('b'.repeat(32), 'client_disconnected', false, 800);
      assert.equal((await s.getTunnel('b'.repeat(32)))?.userShutdown, false);
      assert.equal(await s.pruneTunnels(700), 1);
      assert.equal(await s.pruneTunnels(700), 0);
      assert.deepEqual(
        (await s.listTunnels({})).map((x) => x.id[0]),
        ['c', 'b'],
      );
    });

    test('webdriver sessions: unique ports, activate, touch, list, delete once', async (t) => {
      const s = await b.open(t);
      const a = await s.createAccount({ username: 'alice', role: 'team_member' });
      await s.insertWebDriverSession(session('s1', a.id, { proxyPort: 40001 }));
      await assert.rejects(
        s.insertWebDriverSession(session('s2', a.id, { proxyPort: 40001 })),
        StoreConflictError,
      );
      await s.insertWebDriverSession(
        session('s2', a.id, {
          proxyPort: null,
          tunnelName: null,
          tunnelOwnerId: null,
          ownTunnel: false,
          createdAt: 1_700_000_000_001,
        }),
      );
      assert.deepEqual(await s.getWebDriverSession('s1'), session('s1', a.id, { proxyPort: 40001 }));
      assert.equal((await s.getWebDriverSession('s2'))?.ownTunnel, false);
      assert.equal((await s.getWebDriverSessionByPort(40001))?.id, 's1');
      assert.equal(await s.getWebDriverSessionByPort(40002), null);
      assert.equal(await s.activateWebDriverSession('s1', 'up-1', 'ws://127.0.0.1:1/x'), true);
      assert.equal(await s.activateWebDriverSession('nope', 'up', null), false);
      const s1 = await s.getWebDriverSession('s1');
      assert.deepEqual(
        [s1?.status, s1?.upstreamSessionId, s1?.upstreamWsUrl],
        ['active', 'up-1', 'ws://127.0.0.1:1/x'],
      );
      await s.touchWebDriverSession('s2', 1_800_000_000_000);
      assert.deepEqual(
        (await s.listWebDriverSessions({ tunnelOwnerId: a.id, tunnelName: 'ci' })).map((x) => x.id),
        ['s1'],
      );
      assert.deepEqual(
        (await s.listWebDriverSessions({ idleBefore: 1_750_000_000_000 })).map((x) => x.id),
        ['s1'],
      );
      assert.deepEqual(
        (await s.listWebDriverSessions({})).map((x) => x.id),
        ['s1', 's2'],
      );
      assert.deepEqual(await s.boundProxyPorts(), [40001]);
      assert.equal(await s.deleteWebDriverSession('s1'), true);
      assert.equal(await s.deleteWebDriverSession('s1'), false);
      assert.deepEqual(await s.boundProxyPorts(), []);
    });

    test('audit log: newest first with a limit; settings: insert then replace', async (t) => {
      const s = await b.open(t);
      for (let i = 0; i < 5; i++)
        await s.addAudit({ at: 1000 + i, actor: 'admin', action: `act${i}`, target: 't', result: 'ok' });
      const last = await s.listAudit({ limit: 2 });
      assert.deepEqual(
        last.map((e) => [e.action, e.at]),
        [
          ['act4', 1004],
          ['act3', 1003],
        ],
      );
      assert.equal(typeof last[0]!.seq, 'number');
      assert.ok(last[0]!.seq > last[1]!.seq);
      assert.equal((await s.listAudit()).length, 5);
      assert.equal(await s.getSetting('k'), null);
      await s.setSetting('k', 'v1');
      await s.setSetting('k', 'v2');
      assert.equal(await s.getSetting('k'), 'v2');
      await s.ping();
    });

    test('migrations are applied once; data and the account service survive a reopen', async (t) => {
      const s = await b.open(t);
      const dir = await tempDir('sluice-secret-');
      const secret = await loadOrCreateSecret(dir);
      const accounts = new AccountService(s, secret);
      const admin = await accounts.ensureAdmin();
      assert.ok(admin.accessKey);
      const again = await b.reopen();
      t.after(() => again.close());
      const accounts2 = new AccountService(again, secret);
      assert.equal((await accounts2.ensureAdmin()).created, false);
      assert.equal((await accounts2.authenticate('admin', admin.accessKey))?.role, 'org_admin');
      assert.equal(await again.countAccounts(), 1);
      assert.ok(knownMigrations.length >= 3);
    });
  });
}

describe('postgres only', { skip: postgresMissing() }, () => {
  test('several nodes opening a new database at once migrate it once, in turn', async (t) => {
    const url = await (await postgres()).newDatabase('race');
    const stores = await Promise.all(
      Array.from({ length: 4 }, () => openPostgresStore(url, { poolSize: 2 })),
    );
    t.after(() => Promise.all(stores.map((s) => s.close())).then(() => undefined));
    // Each saw the same schema: the default org exists exactly once, and writes through one show in another.
    assert.deepEqual(
      (await stores[3]!.listOrgs()).map((o) => o.name),
      ['default'],
    );
    await stores[0]!.createAccount({ username: 'alice', role: 'team_member' });
    assert.equal((await stores[2]!.getAccountByUsername('alice'))?.username, 'alice');
    const { default: pgmod } = await import('pg');
    const c = new pgmod.Client({ connectionString: url });
    await c.connect();
    t.after(() => c.end());
    const r = await c.query<{ name: string }>('select name from kysely_migration order by name');
    assert.deepEqual(
      r.rows.map((x) => x.name),
      knownMigrations,
    );
  });
});
