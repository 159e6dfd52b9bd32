/**
 * The web console's security model against a real sc-server (docs/console.md): the session cookie's flags, CSRF
 * refusals on changes, sessions that end with their key, the CSP of its pages, and server.json's console_url.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { cleanup, rest, startServer, type RestCredentials, type TestServer } from '../../kit/index.js';
import { consoleCall, consoleSignIn } from '../../kit/console.js';

after(cleanup);

describe('console sessions and CSRF', { timeout: 120_000 }, () => {
  let server: TestServer;
  let alice: RestCredentials;
  let tunnelId: string;

  const newTunnel = async (name: string): Promise<string> => {
    const r = await rest<{ id: string }>(server, 'POST', '/alice/tunnels', alice, {
      tunnel_identifier: name,
    });
    assert.equal(r.status, 200, r.text);
    return r.json.id;
  };

  before(async () => {
    server = await startServer();
    const made = await rest<{ access_key: string }>(server, 'POST', '/admin/users', server.admin, {
      username: 'alice',
      role: 'team_member',
    });
    assert.equal(made.status, 201, made.text);
    alice = { username: 'alice', accessKey: made.json.access_key };
    tunnelId = await newTunnel('t1');
  });

  it('server.json names the console; its page has a strict CSP and no inline script', async () => {
    assert.equal(server.info.console_url, new URL('/console/', server.restUrl).href);
    const page = await consoleCall(server, 'GET', '/console/', { origin: null });
    assert.equal(page.status, 200);
    assert.match(String(page.headers['content-type']), /^text\/html/);
    const csp = String(page.headers['content-security-policy']);
    assert.match(csp, /default-src 'none'/);
    assert.match(csp, /script-src 'self'(;|$)/);
    assert.match(csp, /frame-ancestors 'none'/);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
    assert.equal(page.headers['x-content-type-options'], 'nosniff');
    assert.doesNotMatch(page.text, /<script(?![^>]*\bsrc=)[^>]*>/, 'no inline script');
    for (const asset of [
      'app.js',
      'vendor/preact.js',
      'vendor/preact-hooks.js',
      'vendor/htm.js',
      'vendor/uplot.js',
    ]) {
      const r = await consoleCall(server, 'GET', `/console/${asset}`, { origin: null });
      assert.equal(r.status, 200, asset);
      assert.match(String(r.headers['content-type']), /^text\/javascript/, asset);
    }
    assert.equal(
      (await consoleCall(server, 'GET', '/console/../server-secret', { origin: null })).status,
      404,
    );
    assert.equal((await consoleCall(server, 'GET', '/console/nope.js', { origin: null })).status, 404);
  });

  it('signing in sets an HttpOnly, Secure, SameSite=Strict cookie with a bounded lifetime', async () => {
    const s = await consoleSignIn(server, alice);
    const flags = s.setCookie.split(';').map((f) => f.trim().toLowerCase());
    assert.ok(flags.includes('httponly'), s.setCookie);
    assert.ok(flags.includes('secure'), s.setCookie);
    assert.ok(flags.includes('samesite=strict'), s.setCookie);
    assert.ok(flags.includes('path=/'), s.setCookie);
    const maxAge = Number(flags.find((f) => f.startsWith('max-age='))?.slice(8));
    assert.ok(maxAge > 0 && maxAge <= 24 * 3600, `Max-Age ${maxAge}`);
    assert.ok(s.csrf.length >= 32);
    assert.ok(!s.cookie.includes(alice.accessKey) && !s.setCookie.includes(alice.accessKey));
    const who = await consoleCall<{ username: string }>(server, 'GET', '/rest/v1/admin/whoami', {
      cookie: s.cookie,
    });
    assert.equal(who.status, 200);
    assert.equal(who.json.username, 'alice');
  });

  it('a wrong key is 401 with no cookie; a body that is not JSON is 400; a cross-site sign-in is 403', async () => {
    const bad = await consoleCall<{ code: string }>(server, 'POST', '/console/api/login', {
      body: { username: 'alice', access_key: 'wrong' },
    });
    assert.equal(bad.status, 401);
    assert.equal(bad.json.code, 'unauthorized');
    assert.equal(bad.headers['set-cookie'], undefined);
    assert.equal(bad.headers['www-authenticate'], undefined);
    const form = await consoleCall<{ code: string }>(server, 'POST', '/console/api/login', {
      body: 'x',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    assert.equal(form.status, 400);
    const cross = await consoleCall<{ code: string }>(server, 'POST', '/console/api/login', {
      body: { username: 'alice', access_key: alice.accessKey },
      origin: 'https://evil.example',
    });
    assert.equal(cross.status, 403);
    assert.equal(cross.json.code, 'csrf_failed');
    assert.equal(cross.headers['set-cookie'], undefined);
  });

  it('failed sign-ins meet the same limiter as REST: 429 rate_limited with Retry-After', async () => {
    let last = 0;
    let retryAfter: string | undefined;
    for (let i = 0; i < 12 && last !== 429; i++) {
      const r = await consoleCall(server, 'POST', '/console/api/login', {
        body: { username: 'nobody-here', access_key: `wrong-${i}` },
      });
      last = r.status;
      retryAfter = r.headers['retry-after'] as string | undefined;
    }
    assert.equal(last, 429);
    assert.match(retryAfter ?? '', /^\d+$/);
    // REST for that username is limited too: one gate for every credential check.
    const viaRest = await rest(server, 'GET', '/admin/whoami', { username: 'nobody-here', accessKey: 'x' });
    assert.equal(viaRest.status, 429);
  });

  it('changes need the CSRF token and the console origin: 403 csrf_failed otherwise, nothing changed', async () => {
    const s = await consoleSignIn(server, alice);
    const path = `/rest/v1/alice/tunnels/${tunnelId}`;
    const stillRunning = async (): Promise<void> => {
      const t = await rest<{ status: string }>(server, 'GET', `/alice/tunnels/${tunnelId}`, alice);
      assert.equal(t.json.status, 'running');
    };
    for (const [what, call] of [
      ['no token', { cookie: s.cookie }],
      ['wrong token', { cookie: s.cookie, csrf: 'A'.repeat(43) }],
      ['other origin', { cookie: s.cookie, csrf: s.csrf, origin: 'https://evil.example' }],
      ['cross-site fetch', { cookie: s.cookie, csrf: s.csrf, headers: { 'sec-fetch-site': 'cross-site' } }],
    ] as const) {
      const r = await consoleCall<{ code: string; error: string }>(server, 'DELETE', path, call);
      assert.equal(r.status, 403, what);
      assert.equal(r.json.code, 'csrf_failed', what);
      assert.match(r.json.error, /X-CSRF-Token|cross-site/, what);
      await stillRunning();
    }
    // Another session's token does not fit this session.
    const other = await consoleSignIn(server, alice);
    assert.equal(
      (await consoleCall(server, 'DELETE', path, { cookie: s.cookie, csrf: other.csrf })).status,
      403,
    );
    await stillRunning();
    const ok = await consoleCall<{ result: boolean }>(server, 'DELETE', path, {
      cookie: s.cookie,
      csrf: s.csrf,
    });
    assert.equal(ok.status, 200, ok.text);
    assert.equal(ok.json.result, true);
  });

  it('a tampered cookie, a revoked key and a disabled account end the session (401 session_expired)', async () => {
    const s = await consoleSignIn(server, alice);
    const [body, sig] = s.cookie.split('.') as [string, string];
    const payload = JSON.parse(Buffer.from(body, 'base64url').toString()) as Record<string, unknown>;
    const forged = Buffer.from(JSON.stringify({ ...payload, e: Number(payload['e']) + 3600 })).toString(
      'base64url',
    );
    for (const cookie of [`${forged}.${sig}`, `${body}.${sig.slice(0, -2)}AA`, 'garbage']) {
      const r = await consoleCall<{ code: string }>(server, 'GET', '/console/api/tunnels', { cookie });
      assert.equal(r.status, 401, cookie);
      assert.equal(r.json.code, 'session_expired');
      assert.match(String(r.headers['set-cookie']), /Max-Age=0/);
    }
    // A second key of alice's signs in; revoking it ends that session but not one made with the first key.
    const key2 = await rest<{ access_key: string; key: { id: string } }>(
      server,
      'POST',
      '/admin/users/alice/keys',
      alice,
      { label: 'second' },
    );
    assert.equal(key2.status, 201, key2.text);
    const s2 = await consoleSignIn(server, { username: 'alice', accessKey: key2.json.access_key });
    assert.equal(
      (await consoleCall(server, 'GET', '/console/api/tunnels', { cookie: s2.cookie })).status,
      200,
    );
    const revoked = await rest(server, 'DELETE', `/admin/users/alice/keys/${key2.json.key.id}`, alice);
    assert.equal(revoked.status, 200, revoked.text);
    const after2 = await consoleCall<{ code: string }>(server, 'GET', '/console/api/tunnels', {
      cookie: s2.cookie,
    });
    assert.equal(after2.status, 401);
    assert.equal(after2.json.code, 'session_expired');
    assert.equal(
      (await consoleCall(server, 'GET', '/console/api/tunnels', { cookie: s.cookie })).status,
      200,
    );
    const disabled = await rest(server, 'PATCH', '/admin/users/alice', server.admin, { disabled: true });
    assert.equal(disabled.status, 200, disabled.text);
    assert.equal(
      (await consoleCall(server, 'GET', '/console/api/tunnels', { cookie: s.cookie })).status,
      401,
    );
    assert.equal(
      (await rest(server, 'PATCH', '/admin/users/alice', server.admin, { disabled: false })).status,
      200,
    );
  });

  it('bad query values are 400 and another user’s unshared tunnel is 404', async () => {
    const s = await consoleSignIn(server, alice);
    for (const q of ['status=nope', 'limit=0', 'limit=x']) {
      const r = await consoleCall<{ code: string }>(server, 'GET', `/console/api/tunnels?${q}`, {
        cookie: s.cookie,
      });
      assert.equal(r.status, 400, q);
      assert.equal(r.json.code, 'invalid_request');
    }
    const adminTunnel = await rest<{ id: string }>(
      server,
      'POST',
      `/${server.admin.username}/tunnels`,
      server.admin,
      {
        tunnel_identifier: 'admins-own',
      },
    );
    const r = await consoleCall<{ code: string }>(
      server,
      'GET',
      `/console/api/tunnels/${adminTunnel.json.id}`,
      {
        cookie: s.cookie,
      },
    );
    assert.equal(r.status, 404);
    assert.equal(r.json.code, 'tunnel_not_found');
    const mine = await consoleCall<{ tunnels: { tunnel_identifier: string; may_stop: boolean }[] }>(
      server,
      'GET',
      '/console/api/tunnels',
      { cookie: s.cookie },
    );
    assert.ok(mine.json.tunnels.every((t) => t.tunnel_identifier !== 'admins-own'));
    const asAdmin = await consoleSignIn(server, server.admin);
    const all = await consoleCall<{ tunnels: { tunnel_identifier: string; may_stop: boolean }[] }>(
      server,
      'GET',
      '/console/api/tunnels',
      { cookie: asAdmin.cookie },
    );
    const names = all.json.tunnels.map((t) => t.tunnel_identifier);
    assert.ok(names.includes('admins-own'));
    assert.ok(all.json.tunnels.every((t) => t.may_stop));
  });
});
