/**
 * The two npm packages of `npm run pack` (docs/decisions/0009-packages.md), installed as a user would:
 * `npm install -g --prefix <tmp>` from the tarballs with no network. The client has no dependencies and
 * nothing to compile; the server loads its native SQLite driver only when the store opens.
 */
import assert from 'node:assert/strict';
import { execFile, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { cleanup, ROOT, tempDir } from '../../kit/index.js';
import { startLocalRegistry } from './local-registry.js';

after(cleanup);

let build = '';
let tarballs: string[] = [];

function run(cmd: string, args: string[], env: Record<string, string> = {}): SpawnSyncReturns<string> {
  return spawnSync(cmd, args, {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 120_000,
    env: { ...process.env, ...env },
  });
}

/** `run` without blocking this process's event loop (which serves the local registry). */
function runAsync(cmd: string, args: string[]): Promise<SpawnSyncReturns<string>> {
  return new Promise((resolve) => {
    execFile(cmd, args, { cwd: ROOT, encoding: 'utf8', timeout: 120_000 }, (err, stdout, stderr) => {
      const e = err as (Error & { code?: number | string; signal?: NodeJS.Signals }) | null;
      resolve({
        pid: 0,
        output: [],
        stdout,
        stderr,
        status: e ? (typeof e.code === 'number' ? e.code : null) : 0,
        signal: e?.signal ?? null,
        ...(e ? { error: e } : {}),
      });
    });
  });
}

function ok(r: SpawnSyncReturns<string>, what: string): string {
  assert.equal(r.status, 0, `${what} failed (${r.status ?? r.signal}):\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

/** `git rev-parse HEAD` of this checkout: what the build stamped (with "-dirty" for a modified tree). */
function headCommit(): string {
  return ok(run('git', ['rev-parse', 'HEAD']), 'git rev-parse').trim();
}

function assertVersionText(text: string): void {
  assert.match(text, /^Version: \d+\.\d+\.\d+/m);
  const commit = /^Git commit: (.*)$/m.exec(text)?.[1];
  assert.match(commit ?? '', new RegExp(`^${headCommit()}(-dirty)?$`), text);
  assert.match(text, /^Build time: \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/m);
}

function tarList(tgz: string): string[] {
  return ok(run('tar', ['-tzf', tgz]), 'tar -t')
    .trim()
    .split('\n');
}

function tarPackageJson(tgz: string): Record<string, unknown> {
  return JSON.parse(ok(run('tar', ['-xzOf', tgz, 'package/package.json']), 'tar -x')) as Record<
    string,
    unknown
  >;
}

before(async () => {
  build = await tempDir('sluice-pack-');
  const out = ok(run(process.execPath, ['dist/scripts/pack.js'], { SLUICE_BUILD_DIR: build }), 'pack');
  tarballs = out.trim().split('\n');
  assert.equal(tarballs.length, 2, out);
});

test('the client bundle reaches neither the server code nor better-sqlite3', () => {
  const meta = JSON.parse(readFileSync(join(build, 'pkg', 'client-meta.json'), 'utf8')) as {
    inputs: Record<string, unknown>;
  };
  const inputs = Object.keys(meta.inputs);
  // The metafile does list what the bundle holds: the client's entry point and the options registry.
  assert.ok(inputs.includes('dist/src/client/cli/main.js'), inputs.join('\n'));
  assert.ok(inputs.includes('dist/src/options/index.js'), inputs.join('\n'));
  assert.deepEqual(
    inputs.filter((i) => i.startsWith('dist/src/server/') || i.includes('better-sqlite3')),
    [],
  );
  const bundle = readFileSync(join(build, 'pkg', 'client', 'bin', 'sc.cjs'), 'utf8');
  assert.doesNotMatch(bundle, /better-sqlite3|better_sqlite3/);
});

test('every runtime dependency is imported by one of the programs, and nothing else is', () => {
  const meta = JSON.parse(readFileSync(join(build, 'pkg', 'client-meta.json'), 'utf8')) as {
    inputs: Record<string, { imports: { path: string }[] }>;
  };
  const clientDeps = new Set<string>();
  for (const [file, input] of Object.entries(meta.inputs))
    if (file.startsWith('dist/'))
      for (const imp of input.imports) {
        const m = /node_modules\/((?:@[^/]+\/)?[^/]+)\/[^]*$/.exec(imp.path);
        if (m && !imp.path.slice(0, m.index).includes('node_modules/')) clientDeps.add(m[1]!);
      }
  const serverDeps = Object.keys(tarPackageJson(tarballs[1]!)['dependencies'] as Record<string, string>);
  const root = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
    dependencies: Record<string, string>;
  };
  assert.deepEqual(
    [...new Set([...clientDeps, ...serverDeps])].sort(),
    Object.keys(root.dependencies).sort(),
  );
});

test('both tarballs carry LICENSE, README and docs; the client has no dependencies and no scripts', () => {
  const [client, server] = tarballs as [string, string];
  assert.match(client, /opentunnel-sc-\d/);
  assert.match(server, /opentunnel-sc-server-\d/);
  for (const tgz of tarballs) {
    const files = tarList(tgz);
    for (const f of [
      'package/LICENSE',
      'package/README.md',
      'package/docs/install.md',
      'package/package.json',
    ])
      assert.ok(files.includes(f), `${tgz} lacks ${f}:\n${files.join('\n')}`);
    assert.match(readFileSync(join(ROOT, 'LICENSE'), 'utf8'), /Apache License\s+Version 2\.0/);
  }
  const clientFiles = tarList(client);
  assert.deepEqual(
    clientFiles.filter((f) => /\.node$|binding\.gyp$|node_modules\//.test(f)),
    [],
  );
  // The bundle holds other packages' code: their licenses go with it.
  assert.ok(clientFiles.includes('package/THIRD-PARTY-NOTICES.txt'), clientFiles.join('\n'));
  const notices = readFileSync(join(build, 'pkg', 'client', 'THIRD-PARTY-NOTICES.txt'), 'utf8');
  assert.match(notices, /=== yaml@[\d.]+ \(ISC\) ===/);
  assert.match(notices, /=== prom-client@[\d.]+/);
  const cpkg = tarPackageJson(client);
  assert.deepEqual(cpkg['bin'], { sc: 'bin/sc.cjs' });
  assert.equal(cpkg['dependencies'], undefined);
  assert.equal(cpkg['scripts'], undefined);
  const spkg = tarPackageJson(server);
  assert.deepEqual(spkg['bin'], { 'sc-server': 'dist/src/server/cli/main.js' });
  const deps = Object.keys(spkg['dependencies'] as Record<string, string>);
  assert.ok(deps.includes('better-sqlite3'), deps.join());
  assert.ok(!deps.includes('ws'), 'ws is only for the tests');
  // The server package ships no client code: only what sc-server imports.
  assert.deepEqual(
    tarList(server).filter((f) => f.startsWith('package/dist/src/client/cli/')),
    [],
  );
});

test('the client installs offline from its tarball with nothing to compile, and sc works', async () => {
  const prefix = await tempDir('sluice-npm-client-');
  const r = run('npm', [
    'install',
    '-g',
    '--prefix',
    prefix,
    '--offline',
    '--cache',
    join(prefix, 'cache'),
    '--foreground-scripts',
    '--ignore-scripts=false',
    '--no-audit',
    '--no-fund',
    '--no-update-notifier',
    tarballs[0]!,
  ]);
  ok(r, 'npm install -g (client)');
  // No install script ran (the package has none and no dependencies), so no node-gyp either.
  assert.doesNotMatch(r.stdout + r.stderr, /gyp|prebuild|install script/i);
  const installed = join(prefix, 'lib', 'node_modules', 'opentunnel-sc');
  assert.ok(!existsSync(join(installed, 'node_modules')), 'the client installed dependencies');
  assert.deepEqual(readdirSync(join(prefix, 'lib', 'node_modules')), ['opentunnel-sc']);

  const sc = join(prefix, 'bin', 'sc');
  assertVersionText(ok(run(sc, ['--version']), 'sc --version'));
  assert.match(ok(run(sc, ['run', '--help']), 'sc run --help'), /Usage:\s+sc run \[flags\]/);
  const bad = run(sc, ['run', '--no-such-flag']);
  assert.equal(bad.status, 2, bad.stderr);
  assert.match(bad.stderr, /--no-such-flag/);
});

test('the server installs from its tarball as sc-server, and loads better-sqlite3 only when the store opens', async () => {
  const prefix = await tempDir('sluice-npm-server-');
  const spkg = tarPackageJson(tarballs[1]!);
  // Its dependencies come from this checkout's node_modules through a registry on loopback; better-sqlite3's
  // tarball lacks a compiled binding, as on the real registry. Its install script (download a prebuilt
  // binding, or compile one with node-gyp) cannot work without the network, so it is skipped here: what is
  // left is exactly a server whose native driver is missing.
  const registry = await startLocalRegistry(
    ROOT,
    Object.keys(spkg['dependencies'] as Record<string, string>),
    prefix,
    (name) => (name === 'better-sqlite3' ? ['build', 'deps'] : []),
  );
  try {
    ok(
      await runAsync('npm', [
        'install',
        '-g',
        '--prefix',
        prefix,
        '--registry',
        registry.url,
        '--cache',
        join(prefix, 'cache'),
        '--ignore-scripts',
        '--no-audit',
        '--no-fund',
        '--no-update-notifier',
        tarballs[1]!,
      ]),
      'npm install -g (server)',
    );
  } finally {
    await registry.close();
  }
  const scServer = join(prefix, 'bin', 'sc-server');
  assertVersionText(ok(run(scServer, ['--version']), 'sc-server --version'));

  const data = join(prefix, 'data');
  const start = run(scServer, [
    'start',
    '--data-dir',
    data,
    '--rest-address',
    '127.0.0.1:0',
    '--edge-address',
    '127.0.0.1:0',
    '--proxy-address',
    '127.0.0.1:0',
  ]);
  assert.equal(start.status, 1, start.stdout + start.stderr);
  assert.match(start.stderr, /better-sqlite3/);
  assert.match(start.stderr, /without --ignore-scripts|\.deb/);
  assert.doesNotMatch(start.stderr, /^\s+at /m, 'a stack trace');
  assert.ok(!existsSync(join(data, 'sluice.db')), 'the failed start created a store');
});
