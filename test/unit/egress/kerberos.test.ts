/**
 * Kerberos pieces that need no KDC: the head rewrite that puts the Negotiate value in, the flag checks, the
 * principal, the environment set before the library loads, the causes named from GSSAPI messages, and that the
 * flags parse (no longer refused as "not supported yet").
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  checkKerberosOptions,
  explainKerberos,
  kerberosEnvironment,
  kerberosWanted,
  keytabEntries,
  principalOf,
  type KerberosOptions,
} from '../../../src/client/egress/kerberos.js';
import { withAuthorization } from '../../../src/client/egress/pipeline.js';
import { parseRunOptions } from '../../../src/options/index.js';

const base: KerberosOptions = {
  kerberosCfgFile: '',
  kerberosKeytabFile: '',
  kerberosUserName: '',
  kerberosUserRealm: '',
  kerberosEnabledHosts: [],
  kerberosAuthUpstreamProxy: false,
  kerberosRunDiagnostics: false,
  proxySauceEnableKerberosAuth: false,
  proxy: '',
  pac: '',
  proxySauce: '',
};

test('withAuthorization replaces every Authorization field and keeps the rest in order', () => {
  const head =
    'GET /x HTTP/1.1\r\nHost: a.test\r\nauthorization: Basic eA==\r\nAccept: */*\r\n' +
    'AUTHORIZATION: Basic eQ==\r\nAuthorization-Extra: keep\r\n\r\n';
  assert.equal(
    withAuthorization(head, 'Negotiate abc'),
    'GET /x HTTP/1.1\r\nAuthorization: Negotiate abc\r\nHost: a.test\r\nAccept: */*\r\n' +
      'Authorization-Extra: keep\r\n\r\n',
  );
  assert.equal(
    withAuthorization('GET / HTTP/1.1\r\nHost: a\r\n\r\n', 'Negotiate t'),
    'GET / HTTP/1.1\r\nAuthorization: Negotiate t\r\nHost: a\r\n\r\n',
  );
});

test('kerberosWanted: only the flags that send tokens (or diagnostics) load the library', () => {
  assert.equal(kerberosWanted({ ...base, kerberosKeytabFile: '/k', kerberosUserName: 'u' }), false);
  assert.equal(kerberosWanted({ ...base, kerberosEnabledHosts: ['a'] }), true);
  assert.equal(kerberosWanted({ ...base, kerberosAuthUpstreamProxy: true }), true);
  assert.equal(kerberosWanted({ ...base, proxySauceEnableKerberosAuth: true }), true);
  assert.equal(kerberosWanted({ ...base, kerberosRunDiagnostics: true }), true);
});

test('principalOf: user@REALM, a name with its own realm as given, or the bare name', () => {
  assert.equal(
    principalOf({ ...base, kerberosUserName: 'alice', kerberosUserRealm: 'EX.TEST' }),
    'alice@EX.TEST',
  );
  assert.equal(
    principalOf({ ...base, kerberosUserName: 'bob@OTHER', kerberosUserRealm: 'EX.TEST' }),
    'bob@OTHER',
  );
  assert.equal(principalOf({ ...base, kerberosUserName: 'carol' }), 'carol');
  assert.equal(principalOf(base), '');
});

test('checkKerberosOptions names the flag of each bad combination or file', () => {
  const bad: [Partial<KerberosOptions>, RegExp][] = [
    [{ proxySauceEnableKerberosAuth: true }, /--proxy-sauce-enable-kerberos-auth needs --proxy-sauce/],
    [{ kerberosAuthUpstreamProxy: true }, /--kerberos-auth-upstream-proxy needs --proxy or --pac/],
    [{ kerberosKeytabFile: '/etc/hostname' }, /--kerberos-keytab-file needs --kerberos-user-name/],
    [{ kerberosUserRealm: 'EX.TEST' }, /--kerberos-user-realm needs --kerberos-user-name/],
    [
      { kerberosCfgFile: '/nonexistent/krb5.conf' },
      /--kerberos-cfg-file: cannot read "\/nonexistent\/krb5\.conf" \(ENOENT\)/,
    ],
  ];
  for (const [o, re] of bad) assert.throws(() => checkKerberosOptions({ ...base, ...o }), re);
  checkKerberosOptions({ ...base, kerberosAuthUpstreamProxy: true, pac: 'data:,x' });
  checkKerberosOptions({ ...base, proxySauceEnableKerberosAuth: true, proxySauce: 'proxy:3128' });
});

/** A keytab file (format 0x0502) with the given entries and dummy keys. */
function keytab(entries: { parts: string[]; realm: string; kvno: number; type: number }[]): Buffer {
  const str = (s: string): Buffer => {
    const b = Buffer.from(s);
    const n = Buffer.alloc(2);
    n.writeUInt16BE(b.length);
    return Buffer.concat([n, b]);
  };
  const u16 = (v: number): Buffer => Buffer.from([v >> 8, v & 255]);
  const u32 = (v: number): Buffer => {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(v);
    return b;
  };
  const out: Buffer[] = [Buffer.from([5, 2])];
  for (const e of entries) {
    const body = Buffer.concat([
      u16(e.parts.length),
      str(e.realm),
      ...e.parts.map(str),
      u32(1),
      u32(1700000000),
      Buffer.from([e.kvno & 255]),
      u16(e.type),
      str('0123456789abcdef'),
      u32(e.kvno),
    ]);
    out.push(u32(body.length), body);
  }
  // A hole left by a removed entry, then the end.
  out.push(Buffer.from([0xff, 0xff, 0xff, 0xfc]), Buffer.alloc(4), u32(0));
  return Buffer.concat(out);
}

test('keytabEntries lists principal, key version and encryption type (never the key); refuses other files', () => {
  const buf = keytab([
    { parts: ['alice'], realm: 'EX.TEST', kvno: 3, type: 18 },
    { parts: ['HTTP', 'www.ex.test'], realm: 'EX.TEST', kvno: 300, type: 17 },
    { parts: ['bob'], realm: 'EX.TEST', kvno: 1, type: 99 },
  ]);
  assert.deepEqual(keytabEntries(buf), [
    { principal: 'alice@EX.TEST', kvno: 3, enctype: 'aes256-cts-hmac-sha1-96' },
    { principal: 'HTTP/www.ex.test@EX.TEST', kvno: 300, enctype: 'aes128-cts-hmac-sha1-96' },
    { principal: 'bob@EX.TEST', kvno: 1, enctype: 'enctype 99' },
  ]);
  assert.throws(() => keytabEntries(Buffer.from('[libdefaults]\n')), /not a keytab file/);
  assert.throws(
    () => keytabEntries(Buffer.concat([buf.subarray(0, 2), Buffer.from([0, 0, 1, 0, 0, 1])])),
    /runs past the end/,
  );
});

test('kerberosEnvironment: the config file, the client keytab and a private memory cache', () => {
  assert.deepEqual(kerberosEnvironment(base), {});
  const env = kerberosEnvironment(
    { ...base, kerberosCfgFile: 'krb5.conf', kerberosKeytabFile: 'u.keytab', kerberosUserName: 'u' },
    '/work',
  );
  assert.equal(env['KRB5_CONFIG'], '/work/krb5.conf');
  assert.equal(env['KRB5_CLIENT_KTNAME'], 'FILE:/work/u.keytab');
  assert.match(env['KRB5CCNAME'] ?? '', /^MEMORY:sluice-sc-\d+$/);
});

test('explainKerberos names the cause and tells credential failures from a missing service principal', () => {
  const stale = explainKerberos('No credentials were supplied: Decrypt integrity check failed', 'a@R');
  assert.match(stale.text, /not a@R's current key/);
  assert.match(stale.text, /\[No credentials were supplied: Decrypt integrity check failed\]$/);
  assert.equal(stale.credentials, true);
  assert.match(
    explainKerberos('Unspecified GSS failure: Ticket expired', '').text,
    /ticket of the default principal has expired/,
  );
  assert.match(
    explainKerberos("x: Client's entry in database has expired", 'a@R').text,
    /principal a@R has expired/,
  );
  assert.match(
    explainKerberos('x: Cannot contact any KDC for realm', 'a@R').text,
    /no KDC of the realm answered/,
  );
  const spn = explainKerberos('x: Server HTTP/h@R not found in Kerberos database', 'a@R');
  assert.equal(spn.credentials, false);
  assert.match(spn.text, /no service principal for this host/);
  assert.deepEqual(explainKerberos('something new', 'a@R'), { text: 'something new', credentials: false });
});

test('the Kerberos flags parse from flags and SAUCE_* env (no longer "not supported yet")', () => {
  const { options } = parseRunOptions(
    [
      '--username',
      'u',
      '--access-key',
      'k',
      '--region',
      'us-west',
      '--tunnel-name',
      't',
      '--rest-url',
      'https://sc.test/rest/v1',
      '--kerberos-enabled-hosts',
      'intranet.test,wiki.test',
      '--kerberos-user-name',
      'alice',
      '--kerberos-auth-upstream-proxy',
      '--proxy',
      'proxy.test:3128',
    ],
    { SAUCE_KERBEROS_USER_REALM: 'EX.TEST', SAUCE_PROXY_SAUCE_ENABLE_KERBEROS_AUTH: 'true' },
    '/',
  );
  assert.deepEqual(options.kerberosEnabledHosts, ['intranet.test', 'wiki.test']);
  assert.equal(options.kerberosUserRealm, 'EX.TEST');
  assert.equal(options.kerberosAuthUpstreamProxy, true);
  assert.equal(options.proxySauceEnableKerberosAuth, true);
  assert.throws(
    () =>
      parseRunOptions(
        [
          '--username',
          'u',
          '--access-key',
          'k',
          '--region',
          'us-west',
          '--tunnel-name',
          't',
          '--rest-url',
          'https://sc.test/rest/v1',
          '--kerberos-enabled-hosts',
          '*.test',
        ],
        {},
        '/',
      ),
    /kerberos-enabled-hosts/,
  );
});
