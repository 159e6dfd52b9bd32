/** --auth matching, --header rules, the --dns-* resolver (against a real UDP DNS server), and the flags' parsing. */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { dnsResolver } from '../../../src/client/egress/dns.js';
import { canonicalName, HeaderRules } from '../../../src/client/egress/header-rules.js';
import { SiteAuth } from '../../../src/client/egress/site-auth.js';
import type { Fields } from '../../../src/client/egress/pipeline.js';
import { ConfigError, parseRunOptions } from '../../../src/options/index.js';
import { cleanup, startDns } from '../../kit/index.js';

after(cleanup);

const basic = (s: string): string => `Basic ${Buffer.from(s).toString('base64')}`;

test('--auth: exact host:port, then *:port, then host:*, then *:*', () => {
  const a = new SiteAuth(['any:1@*:*', 'hostany:2@App.Test:*', 'portany:3@*:8080', 'exact:4@app.test:8080']);
  assert.equal(a.basic('app.test', 8080), basic('exact:4'));
  assert.equal(a.basic('other.test', 8080), basic('portany:3'));
  assert.equal(a.basic('APP.test', 80), basic('hostany:2'));
  assert.equal(a.basic('other.test', 80), basic('any:1'));
  const b = new SiteAuth(['nopass@[::1]:81', 'u:p:with:colons@h:1']);
  assert.equal(b.basic('::1', 81), basic('nopass:'));
  assert.equal(b.basic('h', 1), basic('u:p:with:colons'));
  assert.equal(b.basic('h', 2), undefined);
  assert.doesNotMatch(b.toString(), /colons/);
});

test('--header: add, set empty, remove, remove by prefix; names canonical, case-insensitive', () => {
  assert.equal(canonicalName('x-forwarded-FOR'), 'X-Forwarded-For');
  const rules = new HeaderRules(['x-added: one', 'X-Added:two', 'cookie;', '-user-agent', '-X-Secret-*']);
  const fields: Fields = [
    ['User-Agent', 'curl'],
    ['Cookie', 'a=1'],
    ['x-secret-a', '1'],
    ['X-SECRET-B', '2'],
    ['X-Secretive', 'stays'],
    ['Accept', '*/*'],
  ];
  rules.apply(fields);
  assert.deepEqual(fields, [
    ['X-Secretive', 'stays'],
    ['Accept', '*/*'],
    ['X-Added', 'one'],
    ['X-Added', 'two'],
    ['Cookie', ''],
  ]);
});

test('the flags parse into options; bad values are refused naming the flag', () => {
  const base = [
    '-u',
    'a',
    '-k',
    'k',
    '-r',
    'us-west',
    '-i',
    'n',
    '--rest-url',
    'https://127.0.0.1:1/rest/v1',
  ];
  const { options } = parseRunOptions(
    [
      ...base,
      '--auth',
      'u:p@*:443,v:q@h:*',
      '-H',
      'X-A: 1',
      '-H',
      '-X-B*',
      '--dns-server',
      '127.0.0.1:5353,::1',
      '--dns-round-robin',
      '--dns-timeout',
      '2s',
      '--http-tls-keylog-file',
      '/tmp/k',
      '--debug-address',
      ':0',
    ],
    {},
    process.cwd(),
  );
  assert.deepEqual(options.auth, ['u:p@*:443', 'v:q@h:*']);
  assert.deepEqual(options.header, ['X-A: 1', '-X-B*']);
  assert.deepEqual(options.dnsServer, ['127.0.0.1:5353', '::1']);
  assert.equal(options.dnsRoundRobin, true);
  assert.equal(options.dnsTimeout, 2000);
  assert.equal(options.httpTlsKeylogFile, '/tmp/k');
  assert.equal(options.debugAddress, ':0');
  for (const [argv, re] of [
    [['--header', 'X-A: 1\r\nInjected: 1'], /--header.*CR, LF/s],
    [['--dns-server', 'dns.example'], /--dns-server/],
    [['--auth', 'u:p@host'], /--auth/],
    [['--debug-address', 'nope'], /--debug-address/],
  ] as [string[], RegExp][]) {
    assert.throws(
      () => parseRunOptions([...base, ...argv], {}, process.cwd()),
      (e: unknown) => e instanceof ConfigError && re.test(e.message),
    );
  }
});

test('the resolver asks the --dns-server: names, NXDOMAIN, timeouts, fallback and round robin', async () => {
  const dns = await startDns({ 'app.test': '127.0.0.1', 'other.test': '127.0.0.2' }, ['slow.test']);
  const r = dnsResolver({ servers: [dns.address], roundRobin: false, timeoutMs: 300 });
  assert.deepEqual(await r('app.test'), [{ address: '127.0.0.1', family: 4 }]);
  assert.ok(dns.queries.includes('app.test'));
  assert.deepEqual(await r('127.0.0.9'), [{ address: '127.0.0.9', family: 4 }]);
  assert.deepEqual(await r('localhost'), [{ address: '127.0.0.1', family: 4 }]);
  await assert.rejects(r('nowhere.test'), { code: 'ENOTFOUND' });
  await assert.rejects(r('slow.test'), { code: 'ESC_DNS_TIMEOUT' });

  // A silent first server: the second answers (fallback order).
  const good = await startDns({ 'slow.test': '127.0.0.3' });
  const f = dnsResolver({ servers: [dns.address, good.address], roundRobin: false, timeoutMs: 300 });
  assert.deepEqual(await f('slow.test'), [{ address: '127.0.0.3', family: 4 }]);
  assert.ok(good.queries.includes('slow.test'));

  // Round robin: lookups start at each server in turn.
  const a = await startDns({ 'rr.test': '127.0.0.4' });
  const b = await startDns({ 'rr.test': '127.0.0.4' });
  const rr = dnsResolver({ servers: [a.address, b.address], roundRobin: true, timeoutMs: 1000 });
  for (let i = 0; i < 4; i++) await rr('rr.test');
  assert.equal(a.queries.filter((q) => q === 'rr.test').length, 2);
  assert.equal(b.queries.filter((q) => q === 'rr.test').length, 2);
});
