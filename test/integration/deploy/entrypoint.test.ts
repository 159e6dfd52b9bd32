/**
 * The client image's entry point (deploy/container/entrypoint.ts), run as a plain process: it fills in the tunnel
 * name (host name) and region (us-west, or SLUICE_DEFAULT_REGION) only when neither env nor the config file sets
 * them, and a flag still wins. sc logs the options it ended up with before dialling the server.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
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
