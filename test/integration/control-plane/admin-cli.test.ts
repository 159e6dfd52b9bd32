/** `sc-server admin` on a data directory: every command, JSON output, exit codes, and bad input changing nothing. */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { AccountService, loadOrCreateSecret } from '../../../src/server/accounts/index.js';
import { openSqliteStore } from '../../../src/server/store/sqlite-store.js';
import { tempDir } from '../../kit/index.js';

const run = promisify(execFile);
const MAIN = resolve(import.meta.dirname, '../../../src/server/cli/main.js');

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

function cli(dir: string) {
  return async (...args: string[]): Promise<Result> => {
    try {
      const { stdout, stderr } = await run(process.execPath, [MAIN, 'admin', ...args, '--data-dir', dir]);
      return { code: 0, stdout, stderr };
    } catch (err) {
      const e = err as Result;
      return { code: e.code, stdout: e.stdout, stderr: e.stderr };
    }
  };
}

const json = <T>(r: Result): T => {
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as T;
};

test('sc-server admin manages users, keys, orgs and teams with clear exit codes', async (t) => {
  const dir = await tempDir();
  const admin = cli(dir);

  // No store yet: refused, and nothing is created.
  const none = await admin('users', 'list');
  assert.equal(none.code, 2);
  assert.match(none.stderr, /no Sluice store/);
  assert.equal(existsSync(join(dir, 'sluice.db')), false);

  // A store as "sc-server start" leaves it.
  await (await openSqliteStore(dir)).close();

  assert.equal(json<unknown[]>(await admin('users', 'list', '--json')).length, 0);
  json(await admin('teams', 'create', 'web', '--json'));
  json(await admin('orgs', 'create', 'acme', '--json'));
  json(await admin('teams', 'create', 'ops', '--org', 'acme', '--json'));

  const made = json<{ user: { username: string; role: string; teams: string[] }; access_key: string }>(
    await admin('users', 'create', 'alice', '--role', 'team_admin', '--team', 'web', '--json'),
  );
  assert.deepEqual([made.user.username, made.user.role, made.user.teams], ['alice', 'team_admin', ['web']]);
  const text = await admin('users', 'create', 'bob', '--label', 'ci');
  assert.equal(text.code, 0, text.stderr);
  const bobKey = /shown once, store it now\): (\S+)/.exec(text.stdout)?.[1];
  assert.ok(bobKey, text.stdout);
  const noKey = json<{ access_key?: string }>(
    await admin('users', 'create', 'svc', '--role', 'service_account', '--no-key', '--json'),
  );
  assert.equal(noKey.access_key, undefined);

  // The keys work against the same store (what sc-server would check).
  const store = await openSqliteStore(dir);
  t.after(() => store.close());
  const accounts = new AccountService(store, await loadOrCreateSecret(dir), { cacheTtlMs: 0 });
  assert.equal((await accounts.authenticate('alice', made.access_key))?.role, 'team_admin');
  assert.equal((await accounts.authenticate('bob', bobKey))?.role, 'team_member');

  // Keys: list without secrets, create, rotate, revoke.
  const keys = json<{ id: string; label: string; active: boolean }[]>(
    await admin('keys', 'list', 'bob', '--json'),
  );
  assert.deepEqual(
    keys.map((k) => [k.label, k.active]),
    [['ci', true]],
  );
  const listing = await admin('keys', 'list', 'bob');
  assert.ok(!listing.stdout.includes(bobKey));
  const rotated = json<{ access_key: string; replaced: string }>(
    await admin('keys', 'rotate', 'bob', keys[0]!.id, '--json'),
  );
  assert.equal(rotated.replaced, keys[0]!.id);
  assert.equal(await accounts.authenticate('bob', bobKey), null);
  assert.ok(await accounts.authenticate('bob', rotated.access_key));
  const second = json<{ access_key: string; key: { id: string } }>(
    await admin('keys', 'create', 'bob', '--json'),
  );
  json(await admin('keys', 'revoke', 'bob', second.key.id, '--json'));
  assert.equal(await accounts.authenticate('bob', second.access_key), null);
  assert.equal((await admin('keys', 'revoke', 'bob', second.key.id)).code, 1, 'already revoked');

  // Users: disable / enable, role, teams, membership.
  json(await admin('users', 'disable', 'bob', '--json'));
  assert.equal(await accounts.authenticate('bob', rotated.access_key), null);
  json(await admin('users', 'enable', 'bob', '--json'));
  assert.ok(await accounts.authenticate('bob', rotated.access_key));
  assert.equal(
    json<{ role: string }>(await admin('users', 'set-role', 'bob', 'team_admin', '--json')).role,
    'team_admin',
  );
  assert.deepEqual(
    json<{ teams: string[] }>(await admin('teams', 'add-member', 'web', 'bob', '--json')).teams,
    ['web'],
  );
  assert.deepEqual(json<{ teams: string[] }>(await admin('users', 'set-teams', 'bob', '--json')).teams, []);
  assert.deepEqual(json<{ teams: string[] }>(await admin('users', 'show', 'alice', '--json')).teams, ['web']);
  const teams = json<{ name: string; org: string }[]>(await admin('teams', 'list', '--json'));
  // Rows made in the same second by different processes have no defined order: compare as sets.
  assert.deepEqual(teams.map((x) => `${x.org}/${x.name}`).sort(), ['acme/ops', 'default/web']);
  assert.deepEqual(
    json<{ name: string }[]>(await admin('orgs', 'list', '--json'))
      .map((o) => o.name)
      .sort(),
    ['acme', 'default'],
  );

  // Bad input: exit 2 (usage, invalid) or 1 (not found, exists), a message naming the problem, no change.
  const cases: [string[], number, RegExp][] = [
    [['users', 'create', 'a:b'], 2, /username/],
    [['users', 'create', 'carol', '--role', 'boss'], 2, /role must be one of/],
    [['users', 'create', 'carol', '--team', 'nope'], 1, /no team "nope"/],
    [['users', 'create', 'alice'], 1, /already exists/],
    [['users', 'show', 'nobody'], 1, /no user "nobody"/],
    [['keys', 'rotate', 'bob', 'not-a-key'], 1, /no active key/],
    [['users', 'frobnicate'], 2, /unknown command/],
    [['users', 'create'], 2, /expected USERNAME/],
    [['users', 'list', '--bogus'], 2, /bogus/],
  ];
  for (const [args, code, message] of cases) {
    const r = await admin(...args);
    assert.equal(r.code, code, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, message, args.join(' '));
  }
  assert.equal(json<unknown[]>(await admin('users', 'list', '--json')).length, 3);
  const help = await admin('help');
  assert.equal(help.code, 0);
  assert.match(help.stdout, /keys rotate USERNAME KEY_ID/);
});

test('every admin error code in the code is documented in docs/roles.md', () => {
  const root = resolve(import.meta.dirname, '../../../..');
  const source = readFileSync(join(root, 'src/server/accounts/admin-operations.ts'), 'utf8');
  const doc = readFileSync(join(root, 'docs/roles.md'), 'utf8');
  const codes = new Set(
    [...source.matchAll(/new AdminError\(\s*'[a-z_]+',\s*'([a-z_]+)'/g)].map((m) => m[1]!),
  );
  codes.add('forbidden');
  assert.ok(codes.size >= 8, [...codes].join(','));
  for (const code of codes) assert.match(doc, new RegExp('`' + code + '`'), `docs/roles.md lacks ${code}`);
});
