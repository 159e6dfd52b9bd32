/**
 * sc-server's options (issue 10, point 2): the registry covers ServerOptions exactly, every flag has a
 * SLUICE_SERVER_* env var (the older SC_* names still read), the config file and the precedence are sc's, the
 * settings both programs share are declared once, and the sc --rest-url stumbles give clear, unmasked errors.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import {
  ConfigError,
  parseRunOptions,
  parseServerOptions,
  RUN_FLAGS,
  SERVER_ENV_ALIASES,
  SERVER_FLAGS,
  serverEnvName,
  serverStartHelp,
  SHARED_FLAG_NAMES,
  propertyName,
  type ServerOptions,
} from '../../src/options/index.js';

const dir = mkdtempSync(join(tmpdir(), 'sc-server-options-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

function refused(fn: () => unknown, re: RegExp): string {
  let message = '';
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${String(err)}`);
    assert.match(err.message, re);
    message = err.message;
    return true;
  });
  return message;
}

// The compiler refuses this object if ServerOptions gains or loses a property: keep it in step with the registry.
const PROPERTIES: Record<keyof ServerOptions, true> = {
  configFile: true,
  dataDir: true,
  store: true,
  storePasswordFile: true,
  storePoolSize: true,
  storeConnectTimeout: true,
  storeStatementTimeout: true,
  storeStartRetry: true,
  publicHost: true,
  restAddress: true,
  edgeAddress: true,
  proxyAddress: true,
  metricsAddress: true,
  restMetrics: true,
  tlsCert: true,
  tlsKey: true,
  tunnelKeepaliveInterval: true,
  tunnelKeepaliveTimeout: true,
  tunnelGrace: true,
  queueTimeout: true,
  maxHeaderSize: true,
  proxySplice: true,
  proxyHeaderTimeout: true,
  proxyIdleTimeout: true,
  proxyMaxConnectionsPerSource: true,
  trustedProxies: true,
  maxTunnelsPerUser: true,
  maxTunnelsPerOrg: true,
  tunnelHistoryRetention: true,
  directAllowNetworks: true,
  teamMemberSharing: true,
  webdriverUpstream: true,
  webdriverProxyPorts: true,
  webdriverProxyHost: true,
  webdriverTrustSpki: true,
  webdriverNewSessionTimeout: true,
  webdriverCommandTimeout: true,
  webdriverIdleTimeout: true,
  nodeAddress: true,
  nodeAdvertiseAddress: true,
  nodePublicAddress: true,
  drainTimeout: true,
  nodeLease: true,
  adminUsername: true,
  adminAccessKey: true,
  logFile: true,
  logLevel: true,
  logFormat: true,
};

const server = (argv: string[], env: NodeJS.ProcessEnv = {}): ServerOptions =>
  parseServerOptions(argv, env, dir).options;

test("one flag per ServerOptions property; defaults are today's", () => {
  assert.deepEqual(SERVER_FLAGS.map((f) => propertyName(f.name)).sort(), Object.keys(PROPERTIES).sort());
  const o = server([]);
  assert.equal(o.dataDir, join(dir, 'sluice-data'));
  assert.equal(o.restAddress, '127.0.0.1:8443');
  assert.equal(o.edgeAddress, '127.0.0.1:8444');
  assert.equal(o.proxyAddress, '127.0.0.1:8080');
  assert.equal(o.metricsAddress, '', 'metrics are off unless asked');
  assert.equal(o.restMetrics, false, 'no unauthenticated /metrics on the public REST listener by default');
  assert.equal(o.queueTimeout, 10_000);
  assert.equal(o.tunnelGrace, 60_000);
  assert.equal(o.maxHeaderSize, 16384);
  assert.equal(o.proxySplice, 'true');
});

test('every flag has a SLUICE_SERVER_* env var; the SC_* names of earlier versions are aliases', () => {
  assert.equal(serverEnvName('tunnel-keepalive-timeout'), 'SLUICE_SERVER_TUNNEL_KEEPALIVE_TIMEOUT');
  assert.equal(server([], { SLUICE_SERVER_QUEUE_TIMEOUT: '2s' }).queueTimeout, 2000);
  assert.equal(server([], { SLUICE_SERVER_REST_METRICS: 'true' }).restMetrics, true);
  assert.equal(server([], { SC_REST_ADDRESS: '127.0.0.1:1' }).restAddress, '127.0.0.1:1');
  assert.equal(server([], { SC_ADMIN_ACCESS_KEY: 'k-1234' }).adminAccessKey, 'k-1234');
  assert.equal(
    server([], { SC_LOG_FORMAT: 'json', SLUICE_SERVER_LOG_FORMAT: 'text' }).logFormat,
    'text',
    'the new name wins over the alias',
  );
  assert.equal(server([], { SC_LOG_LEVEL: '' }).logLevel, 'info', 'an empty variable counts as unset');
  // Every alias belongs to a real flag, and is one of the 17 names earlier versions read.
  for (const name of Object.keys(SERVER_ENV_ALIASES)) assert.ok(SERVER_FLAGS.some((f) => f.name === name));
  assert.equal(Object.values(SERVER_ENV_ALIASES).flat().length, 17);
  refused(
    () => server([], { SC_EDGE_ADDRESS: 'nowhere' }),
    /invalid value "nowhere" for --edge-address from env SC_EDGE_ADDRESS: expected host:port/,
  );
});

test('config file: same loader and precedence as sc (flag > env > file > default), unknown keys refused', () => {
  const cfg = file(
    'server.yaml',
    'queue-timeout: 3s\nlog-format: json\nmetrics-address: 127.0.0.1:0\nrest-metrics: true\nmax-header-size: 8192\n',
  );
  const o = server(['--config-file', cfg, '--log-format', 'text'], { SLUICE_SERVER_QUEUE_TIMEOUT: '4s' });
  assert.equal(o.logFormat, 'text', 'flag over file');
  assert.equal(o.queueTimeout, 4000, 'env over file');
  assert.equal(o.metricsAddress, '127.0.0.1:0');
  assert.equal(o.restMetrics, true);
  assert.equal(o.maxHeaderSize, 8192);
  assert.equal(server(['-c', cfg]).queueTimeout, 3000, 'file over default; -c as in sc');
  assert.equal(server([], { SLUICE_SERVER_CONFIG_FILE: cfg }).logFormat, 'json');
  refused(
    () => server(['-c', file('typo.yaml', 'queue-timout: 1s\n')]),
    /unknown key "queue-timout".*--queue-timeout/,
  );
  refused(
    () => server(['-c', join(dir, 'missing.yaml')]),
    /cannot read config file .*missing\.yaml.*file not found/,
  );
  refused(
    () => server(['-c', file('bad.yaml', 'max-header-size: 10\n')]),
    /--max-header-size from config file .*: must be at least 1024/,
  );
});

test('bad values are refused naming the flag; secrets never in the message', () => {
  refused(() => server(['--help-me']), /unknown flag --help-me/);
  refused(
    () => server(['--queue-timeout', 'soon']),
    /invalid value "soon" for --queue-timeout from the command line/,
  );
  refused(() => server(['--max-header-size', '2000000']), /must be at most 1048576/);
  refused(() => server(['--proxy-splice', 'maybe']), /--proxy-splice.*allowed values: true, false/);
  refused(() => server(['--public-host', 'bad host']), /--public-host.*host name/);
  refused(() => server(['--metrics-address', '9090']), /--metrics-address.*expected host:port/);
  refused(() => server(['--tls-cert', 'a.pem']), /--tls-cert and --tls-key go together/);
  refused(() => server(['--tls-key', 'a.pem']), /--tls-cert and --tls-key go together/);
  refused(() => server(['start']), /unexpected argument "start": sc-server start takes only flags/);
  const m = refused(
    () => server(['-c', file('secret.yaml', 'admin-access-key: [s3cret-value]\n')]),
    /--admin-access-key/,
  );
  assert.doesNotMatch(m, /s3cret/);
});

test('settings both programs have are declared once: same type, default, values and description', () => {
  assert.ok(SHARED_FLAG_NAMES.includes('tunnel-keepalive-interval'));
  assert.ok(SHARED_FLAG_NAMES.includes('tunnel-keepalive-timeout'));
  const runNames = new Set(RUN_FLAGS.map((f) => f.name));
  for (const s of SERVER_FLAGS) {
    if (!runNames.has(s.name)) continue;
    // Any name both registries have must be one shared declaration.
    assert.ok(
      SHARED_FLAG_NAMES.includes(s.name),
      `--${s.name} is in both registries: declare it in shared-flags.ts`,
    );
    const r = RUN_FLAGS.find((f) => f.name === s.name)!;
    for (const k of ['type', 'default', 'values', 'description', 'min', 'valueName'] as const)
      assert.deepEqual(r[k], s[k], `--${s.name}: ${k}`);
  }
  const run = parseRunOptions(
    ['-u', 'a', '-k', 'key-1234', '-r', 'us-west', '-i', 'x', '--rest-url', 'https://h/rest/v1'],
    {},
    dir,
  ).options;
  const srv = server([]);
  assert.equal(run.tunnelKeepaliveInterval, srv.tunnelKeepaliveInterval);
  assert.equal(run.tunnelKeepaliveTimeout, srv.tunnelKeepaliveTimeout);
});

test('start --help text lists every visible flag with its env var(s)', () => {
  const help = serverStartHelp();
  for (const f of SERVER_FLAGS) {
    if (f.hidden) continue;
    assert.ok(help.includes(`--${f.name}`), `--${f.name} in help`);
    assert.ok(help.includes(serverEnvName(f.name)), `${serverEnvName(f.name)} in help`);
    for (const alias of SERVER_ENV_ALIASES[f.name] ?? []) assert.ok(help.includes(alias), `${alias} in help`);
  }
});

test('sc --rest-url: a bad URL is shown (only userinfo masked), http:// and a missing /rest/v1 say the fix', () => {
  const base = ['-u', 'a', '-k', 'key-1234', '-r', 'us-west', '-i', 'x'];
  const sc = (url: string): unknown => parseRunOptions([...base, '--rest-url', url], {}, dir);
  refused(
    () => sc('notaurl'),
    /invalid value "notaurl" for --rest-url .*expected a URL like https:\/\/sc\.example\.com\/rest\/v1/,
  );
  refused(() => sc('http://sc.example.com/rest/v1'), /HTTPS only: use https:\/\/sc\.example\.com\/rest\/v1/);
  refused(() => sc('http://sc.example.com:8443'), /use https:\/\/sc\.example\.com:8443\/rest\/v1/);
  refused(
    () => sc('https://sc.example.com:8443'),
    /path must end in \/rest\/v1.*use https:\/\/sc\.example\.com:8443\/rest\/v1/,
  );
  refused(() => sc('https://sc.example.com/sluice/'), /use https:\/\/sc\.example\.com\/sluice\/rest\/v1/);
  const m = refused(
    () => sc('https://u:hunter22@sc.example.com/'),
    /invalid value "https:\/\/u:\*\*\*\*@sc\.example\.com\/"/,
  );
  assert.doesNotMatch(m, /hunter22/);
  // Accepted: the form sc-server logs and writes to server.json, also behind a path prefix.
  for (const ok of ['https://127.0.0.1:8443/rest/v1', 'https://h/rest/v1/', 'https://h/sluice/rest/v1'])
    assert.equal(sc(ok) && ok, ok);
});

test('--tls-cert/--tls-key checks: an expired or not yet valid certificate is refused', async () => {
  const { testCa } = await import('../kit/index.js');
  const { loadTlsPair, TlsPairError } = await import('../../src/server/cli/tls-pair.js');
  const ca = await testCa();
  const cert = file('leaf.pem', ca.certPem);
  const key = file('leaf-key.pem', ca.keyPem);
  assert.match(loadTlsPair(cert, key).names, /127\.0\.0\.1/);
  const day = 86_400_000;
  assert.throws(
    () => loadTlsPair(cert, key, new Date(Date.now() + 365 * day)),
    (e: unknown) => {
      return e instanceof TlsPairError && /leaf\.pem expired on/.test(e.message);
    },
  );
  assert.throws(() => loadTlsPair(cert, key, new Date(Date.now() - 365 * day)), /not valid before/);
});

test('docs/server-cli.md and the table of docs/server.md name every flag, env var and alias', async () => {
  const { readFileSync } = await import('node:fs');
  const { ROOT } = await import('../kit/index.js');
  const cli = readFileSync(join(ROOT, 'docs/server-cli.md'), 'utf8');
  const md = readFileSync(join(ROOT, 'docs/server.md'), 'utf8');
  for (const f of SERVER_FLAGS) {
    for (const text of [
      `\`--${f.name}\``,
      `\`${serverEnvName(f.name)}\``,
      ...(SERVER_ENV_ALIASES[f.name] ?? []),
    ]) {
      assert.ok(md.includes(text), `${text} in docs/server.md`);
      if (!f.hidden) assert.ok(cli.includes(text), `${text} in docs/server-cli.md`);
    }
    if (f.serverJson) assert.ok(md.includes(`\`${f.serverJson}\``), `${f.serverJson} in docs/server.md`);
  }
  for (const key of ['ca_cert', 'ca_fingerprint', 'pid', 'tls_cert', 'metrics_address'])
    assert.ok(
      md.includes(`| \`${key}\``) || md.includes(`\`${key}\` |`),
      `server.json key ${key} in the table`,
    );
});
