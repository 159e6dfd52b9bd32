/**
 * The client bundle (what the npm client package and the single executable ship) and the optional `kerberos`
 * package: the bundle holds no part of it, without it a Kerberos flag stops `sc run` at start with how to
 * install it (exit 2, before any server call), and one found through NODE_PATH (or installed beside sc) loads.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { bundleClient } from '../../../scripts/pack-lib.js';
import { cleanup, closedPort, ROOT, tempDir, within } from '../../kit/index.js';

after(cleanup);

let bundle: string;
let inputs: string[];

before(async () => {
  const dir = await tempDir('sluice-krb-bundle-');
  bundle = join(dir, 'sc.cjs');
  inputs = Object.keys((await bundleClient(bundle)).inputs);
});

async function runBundle(
  args: string[],
  env: Record<string, string>,
): Promise<{ code: number | null; out: string }> {
  const base: Record<string, string | undefined> = { ...process.env, ...env };
  for (const k of Object.keys(base)) if (k.startsWith('SAUCE_') || k.startsWith('KRB5')) delete base[k];
  if (!env['NODE_PATH']) delete base['NODE_PATH'];
  const port = await closedPort();
  const p = spawn(
    process.execPath,
    [
      bundle,
      'run',
      '--username',
      'u',
      '--access-key',
      'k',
      '--region',
      'us-west',
      '--tunnel-name',
      'krb-bundle',
      '--rest-url',
      `https://127.0.0.1:${port}/rest/v1`,
      ...args,
    ],
    { env: { ...base, ...env }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  p.stdout.on('data', (d: Buffer) => (out += d.toString()));
  p.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const code = await within(
    new Promise<number | null>((r) => p.once('exit', r)),
    30_000,
    'the bundled sc to exit',
    () => out,
  );
  return { code, out };
}

test('the client bundle holds no part of the kerberos package', () => {
  assert.ok(inputs.length > 10);
  assert.deepEqual(
    inputs.filter((i) => /(^|\/)node_modules\/kerberos\//.test(i)),
    [],
  );
});

test('without the kerberos package a Kerberos flag exits 2 with how to install it, before any server call', async () => {
  const { code, out } = await runBundle(['--kerberos-enabled-hosts', 'intranet.example'], {});
  assert.equal(code, 2, out);
  assert.match(out, /optional "kerberos" package/);
  assert.match(out, /npm install -g kerberos/);
  assert.match(out, /NODE_PATH/);
  assert.match(out, /it is not installed/);
  assert.doesNotMatch(out, /provisioning tunnel|\n\s+at /);
});

let installed = true;
try {
  createRequire(import.meta.url)('kerberos');
} catch {
  installed = false;
}

test(
  'a kerberos package on NODE_PATH is found by the bundle',
  { skip: installed ? false : 'the optional npm package kerberos is not installed here' },
  async () => {
    const { code, out } = await runBundle(['--kerberos-run-diagnostics'], {
      NODE_PATH: join(ROOT, 'node_modules'),
    });
    assert.match(out, /Kerberos library loaded/);
    // No service named: diagnostics cannot try anything, and say so.
    assert.match(out, /no service to try/);
    assert.equal(code, 2, out);
  },
);
