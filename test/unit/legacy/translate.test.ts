/** `sc legacy`'s translation, in process: SC4 flags to `sc run` flags, host globs to anchored rules. */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { globToRule, hostListToRules } from '../../../src/client/legacy/globs.js';
import { LEGACY_FLAGS } from '../../../src/client/legacy/mapping.js';
import { writeSc5Config } from '../../../src/client/legacy/output-config.js';
import { LegacyError, translateLegacy } from '../../../src/client/legacy/translate.js';
import { parseRunOptions, RUN_FLAGS } from '../../../src/options/index.js';
import { RuleSet } from '../../../src/server/routing/domain-rules.js';

/** The server's own matcher (RE2, whole host) over the translated rule. */
function matcher(glob: string): RuleSet {
  const rule = globToRule(glob);
  assert.ok(!(rule instanceof Error), String(rule));
  return new RuleSet([rule]);
}

test('*.example.com matches subdomains only, not example.com.evil nor aexample.com', () => {
  const set = matcher('*.example.com');
  assert.ok(set.match('a.example.com'));
  assert.ok(set.match('a.b.example.com'));
  assert.equal(set.match('example.com'), undefined);
  assert.equal(set.match('example.com.evil'), undefined);
  assert.equal(set.match('aexample.com'), undefined);
  assert.equal(set.match('a.example.com.evil'), undefined);
  assert.equal(globToRule('*.example.com'), '^.*\\.example\\.com$');
});

test('a plain name matches only itself; a leading dot adds the subdomains; * is every host', () => {
  const plain = matcher('example.com');
  assert.ok(plain.match('example.com'));
  assert.equal(plain.match('www.example.com'), undefined);
  assert.equal(plain.match('examplexcom'), undefined, 'the dot is escaped');
  const dot = matcher('.example.com');
  assert.ok(dot.match('example.com'));
  assert.ok(dot.match('x.example.com'));
  assert.equal(dot.match('aexample.com'), undefined);
  assert.equal(globToRule('*'), 'all');
  assert.ok(matcher('*').match('anything.test'));
});

test('host lists: comma-separated, bad patterns named', () => {
  assert.deepEqual(hostListToRules('a.com, *.b.com'), ['^a\\.com$', '^.*\\.b\\.com$']);
  const bad = hostListToRules('a.com,ex(ample).com');
  assert.ok(bad instanceof Error);
  assert.match(bad.message, /ex\(ample\)\.com/);
  assert.ok(hostListToRules(',') instanceof Error);
});

test('a CI-style SC4 line becomes sc run flags that the sc run parser accepts', () => {
  const t = translateLegacy(
    [
      '-u',
      'alice',
      '-k',
      'secret-key',
      '-i',
      'build-42',
      '-x',
      'https://sc.example.test/rest/v1',
      '--readyfile',
      '/tmp/r',
      '-d',
      '/tmp/p',
      '--se-port',
      '4445',
      '-t',
      '*.internal.test,app.test',
      '-F',
      'ads\\.test',
      '-s',
      '--tunnel-pool',
      '-vv',
      '--status-address=127.0.0.1:0',
    ],
    {},
  );
  assert.equal(t.readyfile, '/tmp/r');
  assert.equal(t.pidfile, '/tmp/p');
  assert.ok(t.warnings.some((w) => /-P\/--se-port is ignored: the Selenium relay is gone/.test(w)));
  const { options } = parseRunOptions(t.argv, {}, '/');
  assert.equal(options.username, 'alice');
  assert.equal(options.accessKey, 'secret-key');
  assert.equal(options.tunnelName, 'build-42');
  assert.equal(options.region, 'us-west');
  assert.equal(options.shared, 'all');
  assert.equal(options.tunnelPool, true);
  assert.equal(options.logLevel, 'debug');
  assert.deepEqual(options.logHttp, ['proxy:url']);
  assert.equal(options.apiAddress, '127.0.0.1:0');
  assert.equal(options.proxyLocalhost, 'direct');
  assert.deepEqual(options.tunnelDomains, ['^.*\\.internal\\.test$', '^app\\.test$']);
  assert.deepEqual(options.denyDomains, ['.*(?:ads\\.test).*']);
});

test('renames with values: proxy credentials, proxy-tunnel, site auth, DNS, CA, region names', () => {
  const t = translateLegacy(
    [
      '-p',
      'proxy.test:3128',
      '-w',
      'pu:pp',
      '-T',
      '-a',
      'site.test:443:su:sp',
      '--pac-auth',
      'xu:xp@pac-proxy.test:8080',
      '--dns',
      '10.0.0.1,10.0.0.2:5353',
      '--cainfo',
      '/ca.pem',
      '-r',
      'eu-central-1',
      '--proxy-localhost',
    ],
    {},
  );
  const flags = t.argv;
  assert.ok(flags.includes('--proxy=proxy.test:3128'));
  assert.ok(flags.includes('--auth=pu:pp@proxy.test:3128'));
  assert.ok(flags.includes('--proxy-sauce=http://pu:pp@proxy.test:3128'));
  assert.ok(flags.includes('--auth=su:sp@site.test:443'));
  assert.ok(flags.includes('--auth=xu:xp@pac-proxy.test:8080'));
  assert.ok(flags.includes('--dns-server=10.0.0.1') && flags.includes('--dns-server=10.0.0.2:5353'));
  assert.ok(flags.includes('--cacert-file=/ca.pem'));
  assert.ok(flags.includes('--region=eu-central'));
  assert.ok(flags.includes('--proxy-localhost=allow'));
  assert.ok(!flags.includes('--proxy-localhost=direct'));
});

test('defaults: a named tunnel when -i is missing, unless SAUCE_TUNNEL_NAME sets it', () => {
  const t = translateLegacy(['-u', 'a'], {});
  assert.ok(t.argv.includes('--tunnel-name=legacy-default'));
  assert.ok(t.warnings.some((w) => w.includes('"legacy-default"')));
  const e = translateLegacy(['-u', 'a'], { SAUCE_TUNNEL_NAME: 'from-env', SAUCE_REGION: 'eu-central' });
  assert.ok(!e.argv.some((a) => a.startsWith('--tunnel-name') || a.startsWith('--region')));
  assert.equal(e.warnings.length, 0);
});

test('flags that cannot be honoured, unknown flags and bad values are errors naming the flag', () => {
  const cases: [string[], RegExp][] = [
    [['--doctor'], /--doctor cannot be honoured/],
    [['--capath', '/etc/ssl'], /--capath cannot be honoured: CA directories/],
    [['--autodetect'], /--autodetect cannot be honoured/],
    [['-c', '/nonexistent/sc4.yaml'], /cannot read config file \/nonexistent\/sc4.yaml.*file not found/],
    [['-F', 'example\\.com/ads'], /-F\/--fast-fail-regexps.*URL paths/],
    [['-w', 'u:p'], /-w\/--proxy-userpwd: needs --proxy/],
    [['-T'], /-T\/--proxy-tunnel: needs --proxy/],
    [['-a', 'nonsense'], /-a\/--auth: expected host:port:user:password/],
    [['-t', 'a b.com'], /-t\/--tunnel-domains/],
    [['--bogus'], /unknown SC4 flag --bogus/],
    [['--access-key', 'x'], /--access-key is an sc run flag/],
    [['-q'], /unknown SC4 flag -q/],
    [['-u'], /-u\/--user needs a value/],
    [['stray'], /unexpected argument "stray"/],
  ];
  for (const [argv, re] of cases)
    assert.throws(() => translateLegacy(argv, {}), { name: 'Error', message: re });
  assert.throws(() => translateLegacy(['--doctor'], {}), LegacyError);
});

test('error texts do not repeat secret values', () => {
  for (const argv of [
    ['-a', 'host-without-port:SECRETVALUE'],
    ['-w', 'SECRETVALUE'],
  ]) {
    assert.throws(
      () => translateLegacy(argv, {}),
      (err: Error) => !err.message.includes('SECRETVALUE'),
    );
  }
});

test('every mapped target is an sc run flag, and no SC4 name or short letter is declared twice', () => {
  const sc5 = new Set(RUN_FLAGS.map((f) => f.name));
  const names = new Set<string>();
  const shorts = new Set<string>();
  for (const f of LEGACY_FLAGS) {
    if (f.action.kind === 'map')
      assert.ok(sc5.has(f.action.to), `--${f.name} maps to unknown --${f.action.to}`);
    for (const n of [f.name, ...(f.aliases ?? [])]) {
      assert.ok(!names.has(n), n);
      names.add(n);
    }
    if (f.short) {
      assert.ok(!shorts.has(f.short), f.short);
      shorts.add(f.short);
    }
  }
});

const dir = mkdtempSync(join(tmpdir(), 'sluice-legacy-unit-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('an SC4 config file (-c): SC4 keys, lists and switches; the command line wins', () => {
  const file = join(dir, 'sc4.yaml');
  writeFileSync(
    file,
    [
      'user: alice',
      'api-key: from-file-key',
      'rest-url: https://sc.test/rest/v1',
      'tunnel-identifier: from-file',
      'tunnel-domains: ["*.a.test", "b.test"]',
      'shared-tunnel: true',
      'no-autodetect: false',
      'se-port: 4445',
      'readyfile: /tmp/ready',
    ].join('\n'),
  );
  const t = translateLegacy(['-c', 'sc4.yaml', '-i', 'from-flag'], {}, dir);
  const { options } = parseRunOptions(t.argv, {}, dir);
  assert.equal(options.username, 'alice');
  assert.equal(options.accessKey, 'from-file-key');
  assert.equal(options.tunnelName, 'from-flag', 'the command line wins');
  assert.deepEqual(options.tunnelDomains, ['^.*\\.a\\.test$', '^b\\.test$']);
  assert.equal(options.shared, 'all');
  assert.equal(t.readyfile, '/tmp/ready');
  assert.ok(t.warnings.some((w) => w.includes('--se-port')));
  assert.ok(!t.warnings.some((w) => w.includes('--no-autodetect')), 'a switch set to false is not given');

  const bad: [string, RegExp][] = [
    ['tunnel-identifer: x', /unknown SC4 key "tunnel-identifer".*tunnel-identifier/],
    ['shared-tunnel: maybe', /"shared-tunnel" is a switch/],
    ['user: {a: 1}', /"user" needs a value/],
    ['api-key: [SECRETVALUE, {x: 1}]', /"api-key" needs a value/],
    ['- a\n- b', /expected a mapping/],
  ];
  for (const [text, re] of bad) {
    writeFileSync(file, text);
    assert.throws(
      () => translateLegacy(['-c', file], {}, dir),
      (err: Error) =>
        err instanceof LegacyError && re.test(err.message) && !err.message.includes('SECRETVALUE'),
      text,
    );
  }
});

test('--output-config-file: an sc run config that sc run reads back to the same options, owner-only', () => {
  const t = translateLegacy(
    [
      '-u',
      'alice',
      '-k',
      'k-123456',
      '-x',
      'https://sc.test/rest/v1',
      '-i',
      'ci',
      '-t',
      '*.a.test',
      '-s',
      '--tunnel-pool',
      '-f',
      '/tmp/r',
    ],
    {},
  );
  const out = join(dir, 'sc5.yaml');
  writeSc5Config(out, t, 'a test');
  assert.equal(statSync(out).mode & 0o777, 0o600);
  const direct = parseRunOptions(t.argv, {}, dir).options;
  const viaFile = parseRunOptions(['-c', out], {}, dir).options;
  assert.deepEqual({ ...viaFile, configFile: '' }, { ...direct, configFile: '' });
});
