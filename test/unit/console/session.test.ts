/**
 * The console's signed session cookie (src/server/console/session.ts) over a real SQLite store: it names its
 * account, ends with its expiry, its key and its account, cannot be altered or carried to another server secret,
 * and its CSRF token belongs to it alone.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { hashAccessKey } from '../../../src/server/accounts/access-keys.js';
import { AccountService } from '../../../src/server/accounts/account-service.js';
import {
  ConsoleSessions,
  cookieValue,
  sameOrigin,
  SESSION_COOKIE,
} from '../../../src/server/console/session.js';
import { openSqliteStore } from '../../../src/server/store/sqlite-store.js';
import type { Account, Store } from '../../../src/server/store/types.js';
import { cleanup, tempDir } from '../../kit/index.js';

after(cleanup);

/** A request as the server sees it: only headers matter here. */
const req = (headers: Record<string, string>): IncomingMessage => ({ headers }) as unknown as IncomingMessage;
const withCookie = (value: string, more: Record<string, string> = {}): IncomingMessage =>
  req({ cookie: `other=1; ${SESSION_COOKIE}=${value}; x=y`, ...more });

describe('console sessions', () => {
  const secret = randomBytes(32);
  let store: Store;
  let accounts: AccountService;
  let alice: Account;
  let key: string;
  let now = 1_000_000;
  let sessions: ConsoleSessions;

  before(async () => {
    store = await openSqliteStore(join(await tempDir('sluice-console-unit-'), 'data'));
    accounts = new AccountService(store, secret);
    const made = await accounts.createUser({ username: 'alice', role: 'team_member' });
    alice = made.account;
    key = made.key!;
    sessions = new ConsoleSessions(secret, store, () => now);
  });
  after(() => store.close());

  it('a session names its account and carries a CSRF token of its own', async () => {
    const s = sessions.issue(alice, hashAccessKey(secret, key));
    assert.ok(!s.cookie.includes(key));
    const got = await sessions.read(withCookie(s.cookie));
    assert.ok('account' in got, JSON.stringify(got));
    assert.equal(got.account.username, 'alice');
    assert.equal(got.csrf, s.csrf);
    assert.equal(got.expires, now + sessions.ttlS);
    assert.equal(sessions.csrfOk(req({ 'x-csrf-token': s.csrf }), got.csrf), true);
    assert.equal(sessions.csrfOk(req({}), got.csrf), false);
    const other = sessions.issue(alice, hashAccessKey(secret, key));
    assert.notEqual(other.csrf, s.csrf);
    assert.equal(sessions.csrfOk(req({ 'x-csrf-token': other.csrf }), got.csrf), false);
  });

  it('no cookie is "none"; an altered one, or one signed under another secret, is "invalid"', async () => {
    assert.deepEqual(await sessions.read(req({})), { problem: 'none' });
    const s = sessions.issue(alice, hashAccessKey(secret, key));
    const [body, sig] = s.cookie.split('.') as [string, string];
    const p = JSON.parse(Buffer.from(body, 'base64url').toString()) as { e: number };
    const longer = Buffer.from(JSON.stringify({ ...p, e: p.e + 86400 })).toString('base64url');
    for (const bad of [`${longer}.${sig}`, body, `${body}.`, '.', 'a.b.c'])
      assert.deepEqual(await sessions.read(withCookie(bad)), { problem: 'invalid' }, bad);
    const elsewhere = new ConsoleSessions(randomBytes(32), store, () => now);
    assert.deepEqual(await elsewhere.read(withCookie(s.cookie)), { problem: 'invalid' });
  });

  it('ends at its expiry', async () => {
    const s = sessions.issue(alice, hashAccessKey(secret, key));
    now += sessions.ttlS - 1;
    assert.ok('account' in (await sessions.read(withCookie(s.cookie))));
    now += 1;
    assert.deepEqual(await sessions.read(withCookie(s.cookie)), { problem: 'expired' });
  });

  it('ends when its key is revoked or its account disabled, not when another key is', async () => {
    const second = await accounts.createKey(alice.id, 'second');
    const viaSecond = sessions.issue(alice, hashAccessKey(secret, second.key));
    const viaFirst = sessions.issue(alice, hashAccessKey(secret, key));
    assert.ok('account' in (await sessions.read(withCookie(viaSecond.cookie))));
    await accounts.revokeKey(alice.id, second.info.id);
    assert.deepEqual(await sessions.read(withCookie(viaSecond.cookie)), { problem: 'revoked' });
    assert.ok('account' in (await sessions.read(withCookie(viaFirst.cookie))));
    await accounts.setDisabled(alice.id, true);
    assert.deepEqual(await sessions.read(withCookie(viaFirst.cookie)), { problem: 'revoked' });
    await accounts.setDisabled(alice.id, false);
    assert.ok('account' in (await sessions.read(withCookie(viaFirst.cookie))));
  });

  it('Set-Cookie carries HttpOnly, Secure, SameSite=Strict, Path=/ and a lifetime; clearing sets Max-Age=0', () => {
    const set = sessions.setCookie('v');
    assert.equal(
      set,
      `${SESSION_COOKIE}=v; Path=/; HttpOnly; Secure; SameSite=Strict; Max-Age=${sessions.ttlS}`,
    );
    assert.match(sessions.setCookie(null), /^sluice_console=; .*Max-Age=0$/);
  });
});

describe('cookie and origin checks', () => {
  it('reads one cookie out of a Cookie header', () => {
    assert.equal(cookieValue('a=1; sluice_console=x.y; b=2', 'sluice_console'), 'x.y');
    assert.equal(cookieValue('sluice_console_other=1', 'sluice_console'), null);
    assert.equal(cookieValue(undefined, 'sluice_console'), null);
  });

  it('same origin: Origin equal to this host (or absent), Sec-Fetch-Site not cross-site', () => {
    const host = '127.0.0.1:8443';
    assert.equal(sameOrigin(req({ host })), true);
    assert.equal(sameOrigin(req({ host, origin: `https://${host}` })), true);
    assert.equal(sameOrigin(req({ host, origin: `http://${host}` })), false);
    assert.equal(sameOrigin(req({ host, origin: 'https://evil.example' })), false);
    assert.equal(sameOrigin(req({ host, origin: 'null' })), false);
    assert.equal(sameOrigin(req({ host, 'sec-fetch-site': 'same-origin' })), true);
    assert.equal(sameOrigin(req({ host, 'sec-fetch-site': 'same-site' })), false);
    assert.equal(sameOrigin(req({ host, 'sec-fetch-site': 'cross-site' })), false);
  });
});
