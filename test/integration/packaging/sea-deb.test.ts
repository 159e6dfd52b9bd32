/**
 * `sc` as a single executable (npm run build:sea) and the two .debs (npm run build:deb), built into a temp dir:
 * their metadata and contents, the programs run from a root the debs were unpacked into (`dpkg -x`) carrying a
 * tunnel end to end, and both systemd units checked by `systemd-analyze verify` against those programs.
 */
import assert from 'node:assert/strict';
import { chmodSync, copyFileSync, cpSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import {
  cleanup,
  deterministicBytes,
  proxyRequest,
  READY_LINE,
  startHttpApp,
  tempDir,
  waitFor,
} from '../../kit/index.js';
import { assertVersionText, ok, Program, run } from './helpers.js';

after(cleanup);

let build = '';
let seaMs = 0;
let sea = '';
let debs: { client: string; server: string };
/** Where both debs are unpacked: the "installed system". */
let root = '';

before(async () => {
  build = await tempDir('sluice-sea-deb-');
  const started = Date.now();
  sea = ok(
    run(process.execPath, ['dist/scripts/build-sea.js'], { SLUICE_BUILD_DIR: build }),
    'build-sea',
  ).trim();
  seaMs = Date.now() - started;
});

test('the single executable runs without node: version with the commit, run --help, a bad flag exits 2', (t) => {
  t.diagnostic(`build:sea took ${seaMs} ms`);
  assert.ok(statSync(sea).mode & 0o111, 'not executable');
  const noNode = { PATH: '/nonexistent' }; // nothing to find a node in
  assertVersionText(ok(run(sea, ['--version'], noNode), 'sc --version'));
  assert.match(ok(run(sea, ['run', '--help'], noNode), 'sc run --help'), /Usage:\s+sc run \[flags\]/);
  const bad = run(sea, ['run', '--tunnel-nmae', 'x'], noNode);
  assert.equal(bad.status, 2, bad.stdout + bad.stderr);
  assert.match(bad.stderr, /--tunnel-nmae/);
  assert.doesNotMatch(bad.stderr, /^\s+at /m);
  // No "experimental feature" warning on every start.
  assert.doesNotMatch(run(sea, ['version'], noNode).stderr, /ExperimentalWarning|single executable/i);
});

test('the single executable carries the --pac worker and QuickJS: alone in its directory, it compiles a PAC', async () => {
  // Nothing beside the executable: the worker and the WebAssembly must come from inside it (SEA assets).
  const exe = join(await tempDir('sluice-sea-alone-'), 'sc');
  copyFileSync(sea, exe);
  chmodSync(exe, 0o755);
  const args = ['run', '-u', 'pac', '-k', 'pac-test-key', '-r', 'us-west', '-i', 'pac'];
  // The PAC compiles before sc contacts any server, so this port is never dialled.
  args.push('--rest-url', 'https://127.0.0.1:1/rest/v1');
  const bad = run(exe, [...args, '--pac', 'data:,function FindProxyForURL(u, h) { return "DIRECT"'], {
    PATH: '/nonexistent',
  });
  assert.equal(bad.status, 2, bad.stdout + bad.stderr);
  assert.match(bad.stdout + bad.stderr, /--pac: the PAC script does not compile/);
  assert.doesNotMatch(bad.stdout + bad.stderr, /PAC worker failed|Cannot find module/);
});

test('build:deb makes sluice-sc and sluice-sc-server with units, conffiles and docs', (t) => {
  const started = Date.now();
  const out = ok(
    run(process.execPath, ['dist/scripts/build-deb.js'], {
      SLUICE_BUILD_DIR: build,
      SLUICE_DEB_COMPRESSION: 'none',
    }),
    'build-deb',
  );
  t.diagnostic(`build:deb took ${Date.now() - started} ms`);
  const [client, server] = out.trim().split('\n') as [string, string];
  assert.match(client, /sluice-sc_\d+\.\d+\.\d+_amd64\.deb$/);
  assert.match(server, /sluice-sc-server_\d+\.\d+\.\d+_amd64\.deb$/);
  debs = { client, server };

  const field = (deb: string, name: string): string =>
    ok(run('dpkg-deb', ['--field', deb, name]), 'dpkg-deb --field').trim();
  assert.equal(field(client, 'Package'), 'sluice-sc');
  assert.equal(field(server, 'Package'), 'sluice-sc-server');
  assert.equal(field(client, 'Conflicts'), 'sc');
  for (const deb of [client, server]) {
    assert.match(field(deb, 'Depends'), /libc6/);
    assert.match(ok(run('dpkg-deb', ['--info', deb]), 'dpkg-deb --info'), /conffiles/);
  }
  assert.equal(
    ok(run('dpkg-deb', ['--info', client, 'conffiles']), 'conffiles').trim(),
    '/etc/sluice/sc.env',
  );
  assert.equal(
    ok(run('dpkg-deb', ['--info', server, 'conffiles']), 'conffiles').trim(),
    '/etc/sluice/sc-server.env',
  );

  const contents = (deb: string): Map<string, string> =>
    new Map(
      ok(run('dpkg-deb', ['--contents', deb]), 'dpkg-deb --contents')
        .trim()
        .split('\n')
        .map((l) => {
          const cols = l.split(/\s+/);
          return [cols[5]!.replace(/^\./, ''), `${cols[0]} ${cols[1]}`] as [string, string];
        }),
    );
  const c = contents(client);
  const s = contents(server);
  assert.equal(c.get('/usr/bin/sc'), '-rwxr-xr-x root/root');
  assert.equal(c.get('/etc/sluice/sc.env'), '-rw-r----- root/root');
  assert.equal(s.get('/etc/sluice/sc-server.env'), '-rw-r----- root/root');
  assert.equal(s.get('/usr/bin/sc-server'), '-rwxr-xr-x root/root');
  assert.equal(s.get('/usr/lib/sluice-sc-server/node'), '-rwxr-xr-x root/root');
  for (const [files, pkg, unit] of [
    [c, 'sluice-sc', 'sc'],
    [s, 'sluice-sc-server', 'sc-server'],
  ] as const) {
    assert.ok(files.has(`/lib/systemd/system/${unit}.service`), `${pkg} lacks its unit`);
    for (const doc of ['copyright', 'README.md', 'docs/install.md', 'THIRD-PARTY-NOTICES.txt'])
      assert.ok(files.has(`/usr/share/doc/${pkg}/${doc}`), `${pkg} lacks ${doc}`);
  }
  assert.ok(
    [...s.keys()].some((f) => f.endsWith('/node_modules/better-sqlite3/build/Release/better_sqlite3.node')),
    'the server deb lacks the SQLite binding',
  );
  // Only what runs: no C sources of SQLite, no install-time downloader, no test-only packages.
  assert.deepEqual(
    [...s.keys()].filter((f) =>
      /better-sqlite3\/(deps|src)\/|node_modules\/(prebuild-install|ws|typescript)\//.test(f),
    ),
    [],
  );
});

test('programs installed from the debs carry a tunnel end to end', async (t) => {
  assert.ok(debs, 'the debs were not built');
  root = await tempDir('sluice-debroot-');
  for (const deb of [debs.client, debs.server]) ok(run('dpkg', ['-x', deb, root]), `dpkg -x ${deb}`);
  const sc = join(root, 'usr/bin/sc');
  const scServer = join(root, 'usr/bin/sc-server');
  assertVersionText(ok(run(sc, ['--version'], { PATH: '/usr/bin:/bin' }), 'sc --version'));
  assertVersionText(ok(run(scServer, ['--version'], { PATH: '/usr/bin:/bin' }), 'sc-server --version'));

  const data = join(await tempDir('sluice-debdata-'), 'data');
  const env = {
    PATH: '/usr/bin:/bin',
    HOME: data,
    SC_ADMIN_USERNAME: 'admin',
    SC_ADMIN_ACCESS_KEY: 'deb-test-key-1',
  };
  const server = new Program(
    'sc-server (deb)',
    scServer,
    [
      'start',
      '--data-dir',
      data,
      '--rest-address',
      '127.0.0.1:0',
      '--edge-address',
      '127.0.0.1:0',
      '--proxy-address',
      '127.0.0.1:0',
    ],
    env,
  );
  t.after(() => server.stop().catch(() => undefined));
  const info = await waitFor(
    'server.json from the deb sc-server',
    () => {
      const j = JSON.parse(readFileSync(join(data, 'server.json'), 'utf8')) as Record<string, unknown>;
      return j['pid'] === server.proc.pid ? j : undefined;
    },
    30_000,
    () => server.describe(),
  );
  const app = await startHttpApp();
  const client = new Program(
    'sc (deb)',
    sc,
    [
      'run',
      '--username',
      'admin',
      '--access-key',
      'deb-test-key-1',
      '--region',
      'us-west',
      '--tunnel-name',
      'deb',
      '--rest-url',
      String(info['rest_url']),
      '--cacert-file',
      String(info['ca_cert']),
      '--proxy-localhost',
      'allow',
      // The installed single executable evaluates a PAC for every request (its worker is a SEA asset).
      '--pac',
      'data:,function FindProxyForURL(url, host) { return "DIRECT"; }',
    ],
    { PATH: '/usr/bin:/bin', HOME: data },
  );
  await client.waitForLog(READY_LINE, 30_000);
  const proxyAddress = String(info['proxy_address']);
  // Issue 10 point 8 (fixed elsewhere): the ready line may come before the server routes to the tunnel, so
  // this waits for a 200 rather than taking the first answer; what it checks is the packaged programs.
  let last = '';
  const res = await waitFor(
    'a 200 through the tunnel',
    async () => {
      const r = await proxyRequest(
        { proxyAddress, proxyPort: Number(proxyAddress.split(':').pop()) },
        { username: 'admin', accessKey: 'deb-test-key-1', tunnel: 'deb' },
        { url: `${app.url}/bytes/5000?seed=7` },
      );
      last = `${r.status} ${r.body.toString().slice(0, 200)}`;
      return r.status === 200 ? r : undefined;
    },
    20_000,
    () => `last answer: ${last}\n${client.describe()}\n${server.describe()}`,
  );
  assert.ok(res.body.equals(deterministicBytes(5000, 7)), 'the body came back changed');
  assert.equal(await client.stop(), 0, client.describe());
  assert.equal(await server.stop(), 0, server.describe());
});

test('systemd-analyze verify accepts both units against the installed programs', () => {
  assert.ok(root, 'the debs were not unpacked');
  const which = run('sh', ['-c', 'command -v systemd-analyze']);
  assert.equal(
    which.status,
    0,
    'systemd-analyze is missing: scripts/setup-debian.sh installs it (Debian: apt-get install systemd)',
  );
  // The root needs the system's own units (sysinit.target, ...) that ours depend on, as an installed system has.
  cpSync('/lib/systemd/system', join(root, 'lib/systemd/system'), { recursive: true, force: false });
  for (const unit of ['sc.service', 'sc-server.service']) {
    const r = run('systemd-analyze', ['verify', `--root=${root}`, join(root, 'lib/systemd/system', unit)]);
    assert.equal(r.status, 0, `${unit}: ${r.stderr}`);
    assert.equal(r.stderr.trim(), '', `${unit} has warnings:\n${r.stderr}`);
  }
  // The check is real: the same unit with a program that is not installed is refused.
  const unit = readFileSync(join(root, 'lib/systemd/system/sc.service'), 'utf8');
  const broken = join(root, 'lib/systemd/system/sc-broken.service');
  writeFileSync(broken, unit.replace('ExecStart=/usr/bin/sc run', 'ExecStart=/usr/bin/sc-missing run'));
  const r = run('systemd-analyze', ['verify', `--root=${root}`, broken]);
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /sc-missing/);
});
