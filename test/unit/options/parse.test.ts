/** The options parser: precedence, types, lists, config files, and every error naming flag and source. */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import {
  ConfigError,
  envHints,
  parseRunOptions,
  RUN_FLAGS,
  type ParsedRunOptions,
} from '../../../src/options/index.js';

const dir = mkdtempSync(join(tmpdir(), 'sc-options-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const REQUIRED = [
  '-u',
  'alice',
  '-k',
  'key-1234',
  '-r',
  'us-west',
  '-i',
  'ci-1',
  '--rest-url',
  'https://127.0.0.1:1/rest/v1',
];

function parse(argv: string[], env: NodeJS.ProcessEnv = {}): ParsedRunOptions {
  return parseRunOptions([...REQUIRED, ...argv], env, dir);
}

function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

function refused(fn: () => unknown, re: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${String(err)}`);
    assert.match(err.message, re);
    return true;
  });
}

const PEM = file('ca.pem', '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n');

test('defaults: SC5 values, tls-resign-domains [.*], connections min(16, 4 x CPUs)', () => {
  const { options, sources } = parse([]);
  assert.equal(options.tunnelMaxConcurrentStreams, 256);
  assert.equal(options.proxyLocalhost, 'deny');
  assert.deepEqual(options.tlsResignDomains, ['.*']);
  assert.equal(options.logLevel, 'info');
  assert.equal(options.logFormat, 'text');
  assert.equal(options.apiIdleTimeout, 3_600_000);
  assert.equal(options.httpDialTimeout, 25_000);
  assert.equal(options.httpIdleConnTimeout, 90_000);
  assert.equal(options.tunnelKeepaliveInterval, 5000);
  assert.equal(options.tunnelKeepaliveTimeout, 15_000);
  assert.equal(options.startTimeout, 30_000);
  assert.equal(options.shutdownTimeout, 30_000);
  assert.ok(options.tunnelConnections >= 4 && options.tunnelConnections <= 16);
  assert.equal(sources['log-level'], 'default');
  assert.equal(sources['username'], 'flag');
});

test('precedence per option: flag > env > config file > default', () => {
  const cfg = file(
    'prec.yaml',
    'log-level: debug\nlog-format: json\ntunnel-connections: 3\napi-idle-timeout: 2m\n',
  );
  const { options, sources } = parse(['--config-file', cfg, '--log-level', 'error'], {
    SAUCE_LOG_LEVEL: 'info',
    SAUCE_LOG_FORMAT: 'text',
  });
  assert.equal(options.logLevel, 'error');
  assert.equal(sources['log-level'], 'flag');
  assert.equal(options.logFormat, 'text');
  assert.equal(sources['log-format'], 'env');
  assert.equal(options.tunnelConnections, 3);
  assert.equal(sources['tunnel-connections'], 'config');
  assert.equal(options.apiIdleTimeout, 120_000);
  assert.equal(options.configFile, cfg);
});

test('SAUCE_CONFIG_FILE names the config file; an empty env var counts as unset', () => {
  const cfg = file('env.yml', 'tunnel-name: from-file\n');
  const { options } = parseRunOptions(
    ['-u', 'a', '-k', 'key-1234', '-r', 'us-east', '--rest-url', 'https://x/rest/v1'],
    { SAUCE_CONFIG_FILE: cfg, SAUCE_TUNNEL_NAME: '' },
    dir,
  );
  assert.equal(options.tunnelName, 'from-file');
});

test('durations use Go syntax and are milliseconds', () => {
  const { options } = parse(['--http-dial-timeout', '1m30s', '--api-idle-timeout=0s', '--dns-timeout=5s']);
  assert.equal(options.httpDialTimeout, 90_000);
  assert.equal(options.apiIdleTimeout, 0);
  assert.equal(parse(['--tunnel-keepalive-interval', '500ms']).options.tunnelKeepaliveInterval, 500);
  assert.equal(parse(['--start-timeout', '1h']).options.startTimeout, 3_600_000);
  refused(
    () => parse(['--http-dial-timeout', '30']),
    /--http-dial-timeout from the command line: expected a duration/,
  );
  refused(() => parse(['--http-dial-timeout', '-5s']), /must be at least 0s/);
  refused(
    () => parse([], { SAUCE_START_TIMEOUT: '10 seconds' }),
    /--start-timeout from env SAUCE_START_TIMEOUT/,
  );
});

test('lists accept commas and repetition; a flag list replaces the default', () => {
  const path2 = file('ca2.pem', '-----BEGIN CERTIFICATE-----\nMIIC\n-----END CERTIFICATE-----\n');
  const { options } = parse([
    '--cacert-file',
    `${PEM},${path2}`,
    '--cacert-file',
    PEM,
    '--log-http',
    'proxy:url',
  ]);
  assert.deepEqual(options.cacertFile, [PEM, path2, PEM]);
  assert.deepEqual(options.logHttp, ['proxy:url']);
  const env = parse([], { SAUCE_LOG_HTTP: 'api:headers,control:errors' }).options;
  assert.deepEqual(env.logHttp, ['api:headers', 'control:errors']);
});

test('a list in the config file replaces the default list; YAML sequence or comma string', () => {
  const cfg = file(
    'lists.yaml',
    `cacert-file:\n  - ${PEM}\nlog-http: "api:url, proxy:short-url"\ntls-resign-domains: [".*"]\n`,
  );
  const { options, sources } = parse(['-c', cfg]);
  assert.deepEqual(options.cacertFile, [PEM]);
  assert.deepEqual(options.logHttp, ['api:url', 'proxy:short-url']);
  // The default value written explicitly is not "setting" an unsupported flag.
  assert.deepEqual(options.tlsResignDomains, ['.*']);
  assert.equal(sources['tls-resign-domains'], 'config');
});

test('metadata: key=value pairs from flags (repeatable), env, or a YAML mapping', () => {
  const a = parse(['--metadata=runner=node-saucelabs,build=42', '-M', 'team=web']).options;
  assert.deepEqual(a.metadata, { runner: 'node-saucelabs', build: '42', team: 'web' });
  const cfg = file('meta.yaml', 'metadata:\n  runner: jenkins\n  job: 7\n');
  assert.deepEqual(parse(['-c', cfg]).options.metadata, { runner: 'jenkins', job: '7' });
  refused(
    () => parse(['--metadata', 'novalue']),
    /invalid value "novalue" for --metadata from the command line: expected key=value/,
  );
});

test('config file in JSON', () => {
  const cfg = file('c.json', JSON.stringify({ 'tunnel-pool': true, shared: 'all', 'api-address': ':8032' }));
  const { options } = parse(['--config-file', cfg]);
  assert.equal(options.tunnelPool, true);
  assert.equal(options.shared, 'all');
  assert.equal(options.apiAddress, ':8032');
  const bad = file('bad.json', '{"tunnel-pool": true,}');
  refused(() => parse(['-c', bad]), /config file .*bad\.json is not valid JSON/);
});

test('config file: unknown key refused with the closest name; wrong types name the key', () => {
  const cfg = file('typo.yaml', 'tunnel-nmae: x\n');
  refused(
    () => parse(['-c', cfg]),
    /unknown key "tunnel-nmae" in config file .*typo\.yaml, did you mean --tunnel-name\?/,
  );
  const wrong = file('wrong.yaml', 'tunnel-connections: many\n');
  refused(
    () => parse(['-c', wrong]),
    /invalid value "many" for --tunnel-connections from config file .*wrong\.yaml \(key tunnel-connections\): expected a whole number/,
  );
  refused(
    () => parse(['-c', join(dir, 'missing.yaml')]),
    /cannot read config file .*missing\.yaml.*file not found/,
  );
  refused(() => parse(['-c', file('x.toml', 'a = 1')]), /TOML is not supported/);
  refused(() => parse(['-c', file('list.yaml', '- a\n- b\n')]), /expected a mapping/);
});

test('unknown flags: closest valid name, and SC4 renames', () => {
  refused(() => parse(['--tunnel-nmae', 'x']), /unknown flag --tunnel-nmae, did you mean --tunnel-name\?/);
  refused(() => parse(['--acces-key', 'x']), /did you mean --access-key\?/);
  refused(() => parse(['--api-key', 'x']), /SC4's --api-key is --access-key in SC5/);
  refused(() => parse(['--se-port', '4445']), /was removed in SC5/);
  refused(() => parse(['-Z']), /unknown shorthand flag -Z/);
  refused(() => parse(['stray']), /unexpected argument "stray"/);
  refused(() => parse(['--tunnel-pool', 'false']), /unexpected argument "false".*--flag=false/);
  refused(() => parse(['--log-level']), /flag --log-level needs a value/);
});

test('short aliases and pflag forms', () => {
  const { options } = parseRunOptions(
    [
      '-ualice',
      '-k=key-1234',
      '-r',
      'eu-central',
      '-i',
      'n',
      '-t',
      '-s',
      'all',
      '--rest-url=https://x/rest/v1',
    ],
    {},
    dir,
  );
  assert.equal(options.username, 'alice');
  assert.equal(options.accessKey, 'key-1234');
  assert.equal(options.region, 'eu-central');
  assert.equal(options.tunnelPool, true);
  assert.equal(options.shared, 'all');
  assert.equal(parse(['--tunnel-pool=false']).options.tunnelPool, false);
  assert.equal(parse([], { SAUCE_TUNNEL_POOL: 'true' }).options.tunnelPool, true);
});

test('enumerations and ranges name the flag and its source', () => {
  refused(
    () => parse(['--region', 'mars']),
    /invalid value "mars" for --region from the command line: allowed values: us-west/,
  );
  refused(
    () => parse([], { SAUCE_PROXY_LOCALHOST: 'maybe' }),
    /--proxy-localhost from env SAUCE_PROXY_LOCALHOST/,
  );
  refused(() => parse(['--log-level', 'warn']), /allowed values: error, info, debug/);
  refused(() => parse(['--log-format', 'xml']), /--log-format/);
  refused(() => parse(['--shared', 'team']), /allowed values: all/);
  refused(
    () => parse(['--tunnel-connections', '0']),
    /--tunnel-connections from the command line: must be at least 1/,
  );
  refused(
    () => parse(['--api-address', 'localhost']),
    /--api-address from the command line: expected host:port/,
  );
  refused(() => parse(['--api-address', ':99999']), /invalid port/);
  refused(() => parse(['--log-http', 'proxy:everything']), /unknown mode "everything"/);
  refused(() => parse(['--log-http', 'db:url']), /unknown module "db"/);
  refused(() => parse(['--rest-url', 'ftp://x']), /--rest-url from the command line: expected an http/);
  refused(() => parse(['-i', 'tab\there']), /printable ASCII/);
  for (const region of [
    'us-west',
    'us-west-1',
    'us-east',
    'us-east-4',
    'eu-central',
    'eu-central-1',
    'asia-south-2',
  ])
    assert.equal(parse(['-r', region]).options.region, region);
});

test('--cacert-file: existing PEM file (relative to cwd) or data:base64; others refused', () => {
  assert.deepEqual(parse(['--cacert-file', 'ca.pem']).options.cacertFile, [PEM]);
  const data =
    'data:base64,' +
    Buffer.from('-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----').toString('base64');
  assert.deepEqual(parse(['--cacert-file', data]).options.cacertFile, [data]);
  refused(
    () => parse(['--cacert-file', 'nope.pem']),
    /--cacert-file from the command line: file .*nope\.pem does not exist/,
  );
  refused(() => parse(['--cacert-file', file('notpem.txt', 'hello')]), /no PEM certificate found/);
});

test('required flags and the server URL', () => {
  refused(
    () =>
      parseRunOptions(['-u', 'a', '-r', 'us-west', '-i', 'x', '--rest-url', 'https://x/rest/v1'], {}, dir),
    /missing required flag --access-key: .*SAUCE_ACCESS_KEY/,
  );
  refused(
    () => parseRunOptions(['-u', 'a', '-k', 'key-1234', '-r', 'us-west', '-i', 'x'], {}, dir),
    /^no server configured: set --rest-url or SAUCE_REST_URL to your sc-server REST URL$/,
  );
});

test('mutually exclusive pairs are refused, naming both flags and sources', () => {
  refused(
    () => parse(['--tunnel-domains', '.*\\.internal'], { SAUCE_DIRECT_DOMAINS: 'cdn\\.com' }),
    /--tunnel-domains \(from the command line\) and --direct-domains \(from env SAUCE_DIRECT_DOMAINS\) cannot be used together/,
  );
  refused(
    () => parse(['-b', 'a', '-B', 'b']),
    /--tls-resign-domains .* and --tls-passthrough-domains .* cannot be used together/,
  );
  refused(
    () => parse(['--proxy', 'http://p:3128', '--pac', '-']),
    /--proxy .* and --pac .* cannot be used together/,
  );
});

test('flags whose behaviour is not there yet: validated, then refused', () => {
  const cases: [string[], RegExp][] = [
    [['--address', 'localhost:8080'], /^flag --address: not supported yet/],
  ];
  for (const [argv, re] of cases) refused(() => parse(argv), re);
  refused(
    () => parse([], { SAUCE_ADDRESS: 'localhost:8080' }),
    /not supported yet \(set from env SAUCE_ADDRESS\)/,
  );
  // Syntax first: a bad value is reported as bad, not as unsupported.
  refused(
    () => parse(['--tunnel-domains', '*.example.com']),
    /invalid value "\*\.example\.com" for --tunnel-domains.*\.\*\\\./,
  );
  refused(() => parse(['--tunnel-domains', '(unclosed']), /invalid regular expression/);
  refused(() => parse(['--proxy', 'ftp://p:21']), /unsupported scheme "ftp"/);
  refused(() => parse(['--auth', 'nohost']), /expected user\[:pass\]@host:port/);
  refused(() => parse(['--header', 'Bad Header: 1']), /--header/);
  refused(() => parse(['--dns-server', 'dns.google']), /not an IP address|expected ip/);
  refused(() => parse(['--kerberos-enabled-hosts', '*.corp']), /no wildcards/);
});

test('secrets never appear in error messages', () => {
  const cfg = file('secret.yaml', 'access-key: [1, 2]\n');
  const argv = ['-u', 'a', '-r', 'us-west', '-i', 'x', '--rest-url', 'https://x', '-c', cfg];
  assert.throws(
    () => parseRunOptions(argv, {}, dir),
    (err: Error) => !err.message.includes('1, 2') && /\*\*\*\*/.test(err.message),
  );
});

test('--api-basic-auth is URL-decoded, so a bad %-escape is refused at start', () => {
  assert.equal(parse(['--api-basic-auth', 'ci:p%40ss']).options.apiBasicAuth, 'ci:p%40ss');
  refused(
    () => parse(['--api-basic-auth', 'ci:100%']),
    /invalid value "ci:\*\*\*\*" for --api-basic-auth.*%-escape/,
  );
});

test("near-miss SAUCE_* variables get a hint; other tools' SAUCE_* variables do not", () => {
  const hints = envHints(
    { SAUCE_TUNEL_NAME: 'x', SAUCE_BUILD_NAME: 'nightly', SAUCE_USERNAME: 'a', SAUCE_ACESS_KEY: 'k' },
    RUN_FLAGS.map((f) => f.name),
  );
  assert.deepEqual(hints.sort(), [
    'SAUCE_ACESS_KEY is not an sc option, did you mean SAUCE_ACCESS_KEY?',
    'SAUCE_TUNEL_NAME is not an sc option, did you mean SAUCE_TUNNEL_NAME?',
  ]);
});
