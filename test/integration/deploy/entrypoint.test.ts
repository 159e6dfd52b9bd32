/**
 * The images' entry point and server healthcheck (deploy/container), run as plain processes. The client's entry
 * point fills in the tunnel name (host name) and region (us-west, or SLUICE_DEFAULT_REGION) only when neither env
 * nor the config file sets them, and a flag still wins; sc logs the options it ended up with before dialling.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { cleanup, closedPort, NodeProcess, ROOT, tempDir } from '../../kit/index.js';

after(cleanup);

const ENTRY = resolve(ROOT, 'dist/deploy/container/entrypoint.js');

async function optionsLine(args: string[], extraEnv: Record<string, string>): Promise<string> {
  const env: Record<string, string | undefined> = { ...process.env };
  for (const k of Object.keys(env)) if (k.startsWith('SAUCE_') || k.startsWith('SLUICE_')) delete env[k];
  const port = await closedPort();
  Object.assign(env, {
    SAUCE_USERNAME: 'alice',
    SAUCE_ACCESS_KEY: 'not-a-real-key-123',
    SAUCE_REST_URL: `https://127.0.0.1:${port}/rest/v1`,
    ...extraEnv,
  });
  const p = new NodeProcess('entrypoint', ENTRY, args, env);
  const m = await p.waitForLog(/\[control\] \[INFO\] options .*/);
  await p.kill();
  return m[0];
}

test('image entry point: host name and us-west when nothing sets them', async () => {
  const line = await optionsLine(['run'], {});
  assert.match(line, new RegExp(`tunnel-name=${hostname()}(\\s|$)`));
  assert.match(line, /region=us-west(\s|$)/);
  const other = await optionsLine(['run'], { SLUICE_DEFAULT_REGION: 'eu-central' });
  assert.match(other, /region=eu-central(\s|$)/);
});

test('image entry point: env, the config file and flags keep their say', async () => {
  const byEnv = await optionsLine(['run'], { SAUCE_TUNNEL_NAME: 'from-env', SAUCE_REGION: 'us-east' });
  assert.match(byEnv, /tunnel-name=from-env(\s|$)/);
  assert.match(byEnv, /region=us-east(\s|$)/);

  const dir = await tempDir();
  const cfg = join(dir, 'sc.yaml');
  await writeFile(cfg, 'tunnel-name: from-file\nregion: eu-central\n');
  for (const [args, env] of [
    [['run'], { SAUCE_CONFIG_FILE: cfg }],
    [['run', '-c', cfg], {}],
    [['run', `--config-file=${cfg}`], {}],
  ] as const) {
    const line = await optionsLine([...args], { ...env });
    assert.match(line, /tunnel-name=from-file(\s|$)/, `${args.join(' ')}`);
    assert.match(line, /region=eu-central(\s|$)/);
  }
  const byFlag = await optionsLine(['run', '--tunnel-name', 'from-flag', '-r', 'asia-south-2'], {});
  assert.match(byFlag, /tunnel-name=from-flag(\s|$)/);
  assert.match(byFlag, /region=asia-south-2(\s|$)/);
});

test('server image healthcheck: 1 before the server listens, 0 once its REST listener answers /readyz', async () => {
  const dir = await tempDir();
  const data = join(dir, 'data');
  const health = resolve(ROOT, 'dist/deploy/container/server-health.js');
  const node = process.execPath;
  // A loopback-only namespace: the server listens on all of its interfaces (as in the image), under a public host
  // that resolves nowhere, as in a container whose name only the outside knows.
  const script = [
    'set -e',
    'ip link set lo up',
    `SC_DATA_DIR="${data}" SC_REST_ADDRESS=:0 "${node}" "${health}" && exit 9 || echo "before: $?"`,
    `"${node}" "${resolve(ROOT, 'dist/src/server/cli/main.js')}" start --data-dir "${data}" --public-host sluice-test.invalid --rest-address :0 --edge-address 127.0.0.1:0 --proxy-address 127.0.0.1:0 >"${dir}/server.log" 2>&1 &`,
    `until [ -f "${data}/server.json" ]; do sleep 0.2; done`,
    `SC_DATA_DIR="${data}" SC_REST_ADDRESS=:0 "${node}" "${health}"`,
    'kill %1',
    'wait',
  ].join('\n');
  const env: Record<string, string | undefined> = { ...process.env };
  for (const k of Object.keys(env)) if (k.startsWith('SC_') || k.startsWith('SAUCE_')) delete env[k];
  const r = await new Promise<{ code: number | null; out: string }>((done) => {
    const p = spawn('unshare', ['-n', 'bash', '-c', script], { env });
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (out += d.toString()));
    p.on('exit', (code) => done({ code, out }));
  });
  assert.equal(r.code, 0, r.out);
  assert.match(r.out, /not ready: no server\.json in .* yet \(ENOENT\)\nbefore: 1\n/);
  assert.match(r.out, /^ready: https:\/\/\S+:\d+\/readyz answered 200$/m);
});
