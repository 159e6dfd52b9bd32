/** Failed authentication is limited per account and per source, with Retry-After, on REST and the proxy entry. */
import assert from 'node:assert/strict';
import { afterEach, test } from 'node:test';
import { cleanup, proxyGet, rest, startServer } from '../../kit/index.js';

afterEach(cleanup);

test('failed authentication is rate-limited per account, then per source IP, with Retry-After', async () => {
  const s = await startServer();
  const ADMIN = s.admin;
  const made = await rest(s, 'POST', '/admin/users', ADMIN, { username: 'alice' });
  assert.equal(made.status, 201, made.text);
  const alice = { username: 'alice', accessKey: (made.json as { access_key: string }).access_key };
  assert.equal((await rest(s, 'GET', '/admin/whoami', alice)).status, 200);

  // Per account (10 failures a minute by default): then even the right key waits.
  for (let i = 0; i < 10; i++) {
    const r = await rest(s, 'GET', '/admin/whoami', { username: 'alice', accessKey: `wrong-key-${i}` });
    assert.equal(r.status, 401, `attempt ${i}: ${r.text}`);
  }
  const limited = await rest(s, 'GET', '/admin/whoami', alice);
  assert.equal(limited.status, 429, limited.text);
  assert.equal((limited.json as { code: string }).code, 'rate_limited');
  const wait = Number(limited.headers['retry-after']);
  assert.ok(
    Number.isInteger(wait) && wait >= 1 && wait <= 60,
    `Retry-After ${limited.headers['retry-after']}`,
  );
  const viaProxy = await proxyGet(s, { ...alice, tunnel: 'any' }, 'http://127.0.0.1:9/');
  assert.equal(viaProxy.status, 429);
  assert.equal(viaProxy.error, 'auth_rate_limited');
  assert.ok(Number(viaProxy.retryAfter) >= 1, `proxy Retry-After ${viaProxy.retryAfter}`);

  // Other accounts from the same source still get in while the source is under its own limit.
  assert.equal((await rest(s, 'GET', '/admin/whoami', ADMIN)).status, 200);

  // Per source (30 failures a minute): spread over many usernames, the source itself is stopped.
  for (let i = 0; i < 20; i++) {
    const r = await rest(s, 'GET', '/admin/whoami', { username: `guess${i}`, accessKey: 'wrong-key-xyz' });
    assert.equal(r.status, 401, `guess ${i}: ${r.text}`);
  }
  const blocked = await rest(s, 'GET', '/admin/whoami', ADMIN);
  assert.equal(blocked.status, 429, blocked.text);
  assert.ok(Number(blocked.headers['retry-after']) >= 1);
  // Requests without credentials are not authentication attempts and are not limited.
  assert.equal((await rest(s, 'GET', '/public/tunnels/info/versions', null)).status, 200);
});
