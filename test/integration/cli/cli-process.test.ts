/**
 * `sc` as a process: exit codes and messages for configuration errors, version JSON, the config-file
 * template (parses back as YAML, and uncommented it is a valid config), completion scripts, help.
 */
import assert from 'node:assert/strict';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, test } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { parseRunOptions, RUN_FLAGS } from '../../../src/options/index.js';
import { VERSION } from '../../../src/version.js';

const SC = resolve(import.meta.dirname, '../../../src/client/cli/main.js');
const dir = mkdtempSync(join(tmpdir(), 'sc-cli-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function clean(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const k of Object.keys(env)) if (k.startsWith('SAUCE_')) delete env[k];
  return env;
}

function sc(args: string[], env: NodeJS.ProcessEnv = {}): SpawnSyncReturns<string> {
  return spawnSync(process.execPath, [SC, ...args], {
    encoding: 'utf8',
    env: { ...clean(), ...env },
    cwd: dir,
    timeout: 20_000,
  });
}

const BASE = ['run', '-u', 'alice', '-k', 'key-1234', '-r', 'us-west', '-i', 'ci-1'];

test('configuration errors: exit 2, one line naming flag and source, nothing on stdout', () => {
  const cases: [string[], NodeJS.ProcessEnv, RegExp][] = [
    [BASE, {}, /^sc: no server configured: set --rest-url or SAUCE_REST_URL to your sc-server REST URL$/m],
    [['run', '-u', 'a'], {}, /missing required flag --access-key/],
    [[...BASE, '--rest-url', 'https://x/rest/v1', '--region', 'mars'], {}, /--region from the command line/],
    [
      [...BASE, '--rest-url', 'https://x/rest/v1'],
      { SAUCE_TUNNEL_CONNECTIONS: 'lots' },
      /--tunnel-connections from env SAUCE_TUNNEL_CONNECTIONS/,
    ],
    [[...BASE, '--tunnel-nmae', 'x'], {}, /did you mean --tunnel-name\?/],
    [
      [...BASE, '--rest-url', 'https://x/rest/v1', '--proxy-sauce-enable-kerberos-auth'],
      {},
      /^sc: --proxy-sauce-enable-kerberos-auth needs --proxy-sauce/m,
    ],
    [[...BASE, '--rest-url', 'https://x/rest/v1', '-T', 'a', '-D', 'b'], {}, /cannot be used together/],
    [
      [...BASE, '--rest-url', 'https://x/rest/v1', '--log-file', join(dir, 'no/such/dir/sc.log')],
      {},
      /cannot open --log-file/,
    ],
    [['bogus'], {}, /unknown command "bogus"/],
    [['--username', 'x'], {}, /did you mean "sc run --username x"/],
  ];
  for (const [args, env, re] of cases) {
    const r = sc(args, env);
    assert.equal(r.status, 2, `${args.join(' ')}: exit ${r.status}\n${r.stderr}`);
    assert.match(r.stderr, re);
    assert.equal(r.stdout, '', 'no log output before the configuration is valid');
  }
});

test('a config file error names the file and key', () => {
  const cfg = join(dir, 'bad.yaml');
  writeFileSync(cfg, 'log-levle: debug\n');
  const r = sc([...BASE, '-c', cfg]);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /unknown key "log-levle" in config file .*bad\.yaml, did you mean --log-level\?/);
});

test('sc version and sc version --format json', () => {
  const text = sc(['version']);
  assert.equal(text.status, 0);
  assert.match(text.stdout, new RegExp(`^Version: ${VERSION.replace(/\./g, '\\.')}$`, 'm'));
  assert.match(text.stdout, /^Git commit: /m);
  const json = sc(['version', '--format', 'json']);
  assert.equal(json.status, 0);
  const v = JSON.parse(json.stdout) as Record<string, string>;
  assert.equal(v['version'], VERSION);
  assert.deepEqual(Object.keys(v).sort(), ['arch', 'commit', 'node_version', 'os', 'time', 'version']);
  assert.equal(sc(['version', '--format=xml']).status, 2);
});

test('sc run config-file: commented YAML of every flag that, uncommented, is a valid config', () => {
  const r = sc(['run', 'config-file']);
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(parseYaml(r.stdout), null, 'everything is commented out');
  for (const f of RUN_FLAGS)
    if (f.name !== 'config-file') assert.match(r.stdout, new RegExp(`^#${f.name}:`, 'm'));
  const uncommented = r.stdout.replace(/^#([a-z][a-z0-9-]*:.*)$/gm, '$1');
  const data = parseYaml(uncommented) as Record<string, unknown>;
  assert.ok(Object.keys(data).length >= RUN_FLAGS.length - 1);
  const cfg = join(dir, 'template.yaml');
  writeFileSync(cfg, uncommented);
  // Defaults written out explicitly must not trip "not supported yet" nor the exclusive pairs.
  const { options, sources } = parseRunOptions(
    ['-u', 'a', '-k', 'key-1234', '-r', 'us-west', '-i', 'x', '--rest-url', 'https://x/rest/v1', '-c', cfg],
    {},
    dir,
  );
  assert.deepEqual(options.tlsResignDomains, ['.*']);
  assert.equal(sources['log-level'], 'config');
  assert.equal(options.apiIdleTimeout, 3_600_000);
});

test('sc completion: scripts for bash, zsh, fish and powershell; bash parses', () => {
  for (const shell of ['bash', 'zsh', 'fish', 'powershell']) {
    const r = sc(['completion', shell]);
    assert.equal(r.status, 0, `${shell}: ${r.stderr}`);
    assert.match(r.stdout, /tunnel-name/);
    assert.doesNotMatch(r.stdout, /tunnel-keepalive-interval/, 'hidden flags are not offered');
  }
  const bash = sc(['completion', 'bash']).stdout;
  const check = spawnSync('bash', ['-n'], { input: bash, encoding: 'utf8' });
  assert.equal(check.status, 0, check.stderr);
  const words = spawnSync(
    'bash',
    ['-c', `${bash}\nCOMP_WORDS=(sc run --log-level ""); COMP_CWORD=3; _sc; echo "\${COMPREPLY[*]}"`],
    { encoding: 'utf8' },
  );
  assert.equal(words.stdout.trim(), 'error info debug');
  assert.equal(sc(['completion', 'tcsh']).status, 2);
});

test('sc help: root commands, and run flags grouped without hidden ones', () => {
  const root = sc(['help']);
  assert.equal(root.status, 0);
  assert.match(root.stdout, /Commands:\n\s+run/);
  assert.match(root.stdout, /completion/);
  const run = sc(['run', '--help']);
  assert.equal(run.status, 0);
  for (const group of [
    'Sauce Labs:',
    'Tunnel traffic:',
    'Proxy:',
    'DNS:',
    'HTTP client:',
    'API server:',
    'Logging:',
  ])
    assert.match(run.stdout, new RegExp(`^${group}$`, 'm'));
  assert.match(run.stdout, /-i, --tunnel-name string/);
  assert.match(run.stdout, /SAUCE_TUNNEL_NAME/);
  assert.doesNotMatch(run.stdout, /--start-timeout/);
  assert.equal(sc(['help', 'run']).stdout, run.stdout);
});
