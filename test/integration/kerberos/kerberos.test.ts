/**
 * Kerberos (SPNEGO) with real parts on loopback: an MIT KDC with a throwaway realm (test/kit/kdc.ts), squid
 * demanding Negotiate as the upstream proxy and as the --proxy-sauce proxy, and an origin that accepts only a
 * valid Negotiate token. Also the failures: a stale keytab, an expired ticket, a host without a service principal,
 * and --kerberos-run-diagnostics. Skipped with the reason when the Debian packages or the optional npm package
 * are missing (scripts/setup-debian.sh installs them; CI runs it).
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  cleanup,
  kerberosMissing,
  proxyGet,
  proxyRequest,
  startClient,
  startHttpApp,
  startKdc,
  startNegotiateOrigin,
  startNegotiateSquid,
  startServer,
  type Kdc,
  type NegotiateOrigin,
  type NegotiateProxy,
  type TestServer,
  waitFor,
} from '../../kit/index.js';

after(cleanup);

const missing = kerberosMissing();

const auth = (server: TestServer, tunnel: string) => ({
  username: server.admin.username,
  accessKey: server.admin.accessKey,
  tunnel,
});

describe('Kerberos (SPNEGO)', { skip: missing }, () => {
  let kdc: Kdc;
  let server: TestServer;
  let aliceKeytab: string;
  let squid: NegotiateProxy;
  let origin: NegotiateOrigin;
  const alice = (): string[] => [
    '--kerberos-cfg-file',
    kdc.krb5Conf,
    '--kerberos-keytab-file',
    aliceKeytab,
    '--kerberos-user-name',
    'alice',
    '--kerberos-user-realm',
    kdc.realm,
  ];

  before(async () => {
    kdc = await startKdc();
    await kdc.addPrincipal('HTTP/localhost');
    await kdc.addPrincipal('alice');
    const httpKeytab = await kdc.keytab('HTTP/localhost');
    aliceKeytab = await kdc.keytab('alice');
    [server, squid, origin] = await Promise.all([
      startServer(),
      startNegotiateSquid(kdc, httpKeytab),
      startNegotiateOrigin(kdc, httpKeytab),
    ]);
  });

  test('--proxy through squid demanding Negotiate: with --kerberos-auth-upstream-proxy 200, without 502 upstream_proxy_auth', async () => {
    const app = await startHttpApp();
    await startClient(server, {
      tunnelName: 'krb-upstream',
      args: ['--proxy', `http://localhost:${squid.port}`, '--kerberos-auth-upstream-proxy', ...alice()],
    });
    for (let i = 0; i < 2; i++) {
      // A second connection gets a fresh token: squid's replay cache would refuse a reused one.
      const r = await proxyGet(server, auth(server, 'krb-upstream'), `${app.url}/?n=${i}`);
      assert.equal(r.status, 200, r.body);
    }
    assert.ok(app.requests.length >= 2);
    await waitFor('squid to log the Kerberos user on the CONNECT', async () =>
      new RegExp(`CONNECT 127\\.0\\.0\\.1:${app.port} alice@${kdc.realm}`).test(await squid.log()),
    );

    await startClient(server, {
      tunnelName: 'krb-upstream-off',
      args: ['--proxy', `http://localhost:${squid.port}`],
    });
    const denied = await proxyGet(server, auth(server, 'krb-upstream-off'), `${app.url}/`);
    assert.equal(denied.status, 502);
    assert.equal(denied.error, 'upstream_proxy_auth');
  });

  test('--kerberos-enabled-hosts: Authorization: Negotiate to the listed host only, a fresh token per request', async () => {
    await startClient(server, {
      tunnelName: 'krb-site',
      args: ['--kerberos-enabled-hosts', 'localhost', ...alice()],
    });
    const before = origin.requests.length;
    for (let i = 0; i < 2; i++) {
      const r = await proxyGet(server, auth(server, 'krb-site'), `${origin.url}page-${i}`);
      assert.equal(r.status, 200, r.body);
      assert.equal(r.body, `hello alice@${kdc.realm}\n`);
    }
    // A Basic Authorization from the browser is replaced (SC5: the Kerberos token overwrites it).
    const withBasic = await proxyGet(server, auth(server, 'krb-site'), `${origin.url}basic`);
    assert.equal(withBasic.status, 200, withBasic.body);
    const seen = origin.requests.slice(before);
    assert.equal(seen.length, 3);
    assert.notEqual(seen[0]!.authorization, seen[1]!.authorization, 'each request carries its own token');
    // The same origin by another name is not in the list: no token, so the origin refuses it.
    const other = await proxyGet(server, auth(server, 'krb-site'), `http://127.0.0.1:${origin.port}/other`);
    assert.equal(other.status, 401);
    assert.equal(origin.requests.at(-1)!.authorization, undefined);
  });

  test('--pac: a proxy the PAC script returns gets Negotiate too with --kerberos-auth-upstream-proxy', async () => {
    const app = await startHttpApp();
    const pac = join(kdc.dir, 'krb.pac');
    await writeFile(pac, `function FindProxyForURL(url, host) { return "PROXY localhost:${squid.port}"; }\n`);
    await startClient(server, {
      tunnelName: 'krb-pac',
      args: ['--pac', pac, '--kerberos-auth-upstream-proxy', ...alice()],
    });
    const r = await proxyGet(server, auth(server, 'krb-pac'), `${app.url}/pac`);
    assert.equal(r.status, 200, r.body);
    assert.ok(app.requests.some((q) => q.url === '/pac'));
  });

  test('request bodies wait for the token: POST on the spliced path and on the per-stream path (--proxy-splice false)', async () => {
    const perStream = await startServer({ args: ['--proxy-splice', 'false'] });
    for (const [srv, name] of [
      [server, 'krb-body-splice'],
      [perStream, 'krb-body-stream'],
    ] as const) {
      await startClient(srv, {
        tunnelName: name,
        args: ['--kerberos-enabled-hosts', 'localhost', ...alice()],
      });
      const body = `payload for ${name} `.repeat(2000);
      const r = await proxyRequest(srv, auth(srv, name), {
        method: 'POST',
        url: `${origin.url}${name}`,
        headers: { 'content-type': 'text/plain' },
        body,
      });
      assert.equal(r.status, 200, r.body.toString());
      const seen = origin.requests.find((q) => q.url === `/${name}`);
      assert.equal(seen?.method, 'POST');
      assert.equal(seen?.user, `alice@${kdc.realm}`);
      assert.equal(seen?.body, body);
    }
  });

  test('--proxy-sauce through squid demanding Negotiate with --proxy-sauce-enable-kerberos-auth', async () => {
    const app = await startHttpApp();
    const c = await startClient(server, {
      tunnelName: 'krb-sauce',
      args: [
        '--proxy-sauce',
        `http://localhost:${squid.port}`,
        '--proxy-sauce-enable-kerberos-auth',
        ...alice(),
      ],
    });
    const r = await proxyGet(server, auth(server, 'krb-sauce'), `${app.url}/`);
    assert.equal(r.status, 200, r.body);
    await c.stop();
    await c.waitExit();
    await waitFor('squid to log the REST and edge CONNECTs with the Kerberos user', async () => {
      const log = await squid.log();
      const rest = new URL(server.restUrl);
      return (
        new RegExp(`CONNECT 127\\.0\\.0\\.1:${rest.port} alice@${kdc.realm}`).test(log) &&
        new RegExp(`CONNECT ${server.edgeAddress.replace(/\./g, '\\.')} alice@${kdc.realm}`).test(log)
      );
    });
  });

  test('a stale keytab (the key changed on the KDC) stops sc at start with the cause; diagnostics say the same', async () => {
    await kdc.addPrincipal('bob');
    const stale = await kdc.keytab('bob');
    const fresh = await kdc.keytab('bob'); // exporting again gives bob a new key: the first keytab is stale
    const bob = (keytab: string): string[] => [
      '--kerberos-cfg-file',
      kdc.krb5Conf,
      '--kerberos-keytab-file',
      keytab,
      '--kerberos-user-name',
      'bob',
      '--kerberos-user-realm',
      kdc.realm,
      '--kerberos-enabled-hosts',
      'localhost',
    ];
    const c = await startClient(server, { tunnelName: 'krb-stale', args: bob(stale), waitReady: false });
    const exit = await c.waitExit();
    assert.equal(exit.code, 3, c.logs());
    assert.match(c.logs(), /not bob@SLUICE\.TEST's current key/);
    assert.doesNotMatch(c.logs(), /tunnel running/);

    const diagBad = await startClient(server, {
      tunnelName: 'krb-diag-bad',
      args: [...bob(stale), '--kerberos-run-diagnostics'],
      waitReady: false,
      waitApi: false,
    });
    assert.equal((await diagBad.waitExit()).code, 2, diagBad.logs());
    assert.match(diagBad.logs(), /Kerberos diagnostics: FAILED.*HTTP\/localhost.*current key/);

    const diagOk = await startClient(server, {
      tunnelName: 'krb-diag-ok',
      args: [...bob(fresh), '--kerberos-run-diagnostics'],
      waitReady: false,
      waitApi: false,
    });
    assert.equal((await diagOk.waitExit()).code, 0, diagOk.logs());
    assert.match(diagOk.logs(), /ticket and token OK.*HTTP\/localhost/);
    // The keytab's keys for the principal: key version and encryption types, never the keys.
    assert.match(diagOk.logs(), /keys="kvno \d+ aes256-cts-hmac-sha1-96, kvno \d+ aes128-cts-hmac-sha1-96"/);
    assert.match(diagOk.logs(), /Kerberos diagnostics passed/);
    assert.doesNotMatch(diagOk.logs(), /tunnel running/);
  });

  test('an expired ticket in the kinit cache stops sc at start and names the expiry', async () => {
    await kdc.addPrincipal('carol');
    const keytab = await kdc.keytab('carol');
    const ccache = join(kdc.dir, 'carol.ccache');
    await kdc.kinit('carol', keytab, ccache, '2s');
    await waitFor(
      'the ticket to expire',
      async () => !(await kdc.ticketUsable(ccache, 'HTTP/localhost')),
      30_000,
    );
    const c = await startClient(server, {
      tunnelName: 'krb-expired',
      args: ['--kerberos-cfg-file', kdc.krb5Conf, '--kerberos-enabled-hosts', 'localhost'],
      env: { KRB5CCNAME: `FILE:${ccache}` },
      waitReady: false,
    });
    const exit = await c.waitExit();
    assert.equal(exit.code, 3, c.logs());
    assert.match(c.logs(), /ticket of the default principal has expired/);
  });

  test('with a keytab sc gets a new ticket when the old one expires (a long-running tunnel keeps working)', async () => {
    await kdc.addPrincipal('dave', '-maxlife "3 seconds"');
    const keytab = await kdc.keytab('dave');
    await startClient(server, {
      tunnelName: 'krb-renew',
      args: [
        '--kerberos-cfg-file',
        kdc.krb5Conf,
        '--kerberos-keytab-file',
        keytab,
        '--kerberos-user-name',
        'dave',
        '--kerberos-user-realm',
        kdc.realm,
        '--kerberos-enabled-hosts',
        'localhost',
      ],
    });
    // The KDC's log: the authtime of each ticket it issued to dave from the keytab (AS exchange).
    const authtimes = async (): Promise<number[]> =>
      [...(await kdc.log()).matchAll(/AS_REQ .* ISSUE: authtime (\d+),.* dave@SLUICE\.TEST for krbtgt/g)].map(
        (m) => Number(m[1]),
      );
    const first = Math.min(...(await authtimes()));
    assert.ok(Number.isFinite(first), await kdc.log());
    // Requests keep succeeding; once the first ticket has expired (3 s), one of them needs a new ticket, which sc
    // gets from the keytab by itself.
    const get = async (): Promise<void> => {
      const r = await proxyGet(server, auth(server, 'krb-renew'), `${origin.url}renew`);
      assert.equal(r.status, 200, r.body);
      assert.equal(r.body, `hello dave@${kdc.realm}\n`);
    };
    await waitFor(
      'a ticket issued after the first one expired',
      async () => {
        await get();
        return Math.max(...(await authtimes())) >= first + 3;
      },
      30_000,
    );
    await get();
  });

  test('a host without a service principal: sc starts with a warning; its requests get 502 kerberos_failed', async () => {
    const c = await startClient(server, {
      tunnelName: 'krb-nospn',
      args: ['--kerberos-enabled-hosts', '127.0.0.1', ...alice()],
    });
    assert.match(c.logs(), /no ticket for this service.*HTTP\/127\.0\.0\.1/);
    const r = await proxyGet(server, auth(server, 'krb-nospn'), `http://127.0.0.1:${origin.port}/nospn`);
    assert.equal(r.status, 502);
    assert.equal(r.error, 'kerberos_failed');
    assert.match(r.body, /no service principal for this host/);
    assert.ok(!origin.requests.some((q) => q.url === '/nospn'), 'nothing reached the origin');
  });

  test('bad Kerberos flag combinations and files exit 2 naming the flag', async () => {
    const cases: [string[], RegExp][] = [
      [
        ['--proxy-sauce-enable-kerberos-auth', ...alice()],
        /--proxy-sauce-enable-kerberos-auth needs --proxy-sauce/,
      ],
      [
        ['--kerberos-auth-upstream-proxy', ...alice()],
        /--kerberos-auth-upstream-proxy needs --proxy or --pac/,
      ],
      [
        [
          '--kerberos-enabled-hosts',
          'localhost',
          '--kerberos-keytab-file',
          join(kdc.dir, 'nope.keytab'),
          '--kerberos-user-name',
          'alice',
        ],
        /--kerberos-keytab-file: cannot read ".*nope\.keytab" \(ENOENT\)/,
      ],
      [
        ['--kerberos-enabled-hosts', 'localhost', '--kerberos-keytab-file', aliceKeytab],
        /--kerberos-keytab-file needs --kerberos-user-name/,
      ],
      [
        [...alice(), '--kerberos-enabled-hosts', 'localhost', '--kerberos-user-name', 'mallory'],
        /has no key for mallory@SLUICE\.TEST \(it holds alice@SLUICE\.TEST\)/,
      ],
      [
        [
          '--kerberos-enabled-hosts',
          'localhost',
          '--kerberos-keytab-file',
          kdc.krb5Conf,
          '--kerberos-user-name',
          'alice',
        ],
        /--kerberos-keytab-file: ".*krb5\.conf": not a keytab file/,
      ],
    ];
    for (const [args, re] of cases) {
      const c = await startClient(server, { tunnelName: 'krb-bad', args, waitReady: false, waitApi: false });
      assert.equal((await c.waitExit()).code, 2, c.logs());
      assert.match(c.logs(), re);
      // One line on stderr, before any log line (as every flag error).
      assert.match(c.logs(), /^sc: --(kerberos|proxy-sauce)/m);
      assert.doesNotMatch(c.logs(), /\[control\]|Error: |\n\s+at /);
    }
  });
});
