/**
 * The server's data directory stays mode 0700 and every file in it 0600 (store, WAL, CA key, server secret):
 * as created, and again after a restart that finds them loosened. The admin CLI's writes keep them too.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmod, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { SERVER_MAIN, cleanup, startServer } from '../../kit/index.js';

after(cleanup);

async function modes(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = { '.': ((await stat(dir)).mode & 0o777).toString(8) };
  for (const e of await readdir(dir, { withFileTypes: true })) {
    if (e.isFile()) out[e.name] = ((await stat(join(dir, e.name))).mode & 0o777).toString(8);
  }
  return out;
}

const allPrivate = (m: Record<string, string>): boolean =>
  Object.entries(m).every(([name, mode]) => mode === (name === '.' ? '700' : '600'));

test('data dir 0700 and its files 0600, as created, after loosening and a restart, and after admin writes', async () => {
  const server = await startServer();
  const first = await modes(server.dataDir);
  for (const name of ['sluice.db', 'server-secret', 'ca.pem', 'ca-key.pem']) {
    assert.ok(name in first || Object.keys(first).some((n) => n.startsWith(name.split('.')[0]!)), name);
  }
  assert.ok(allPrivate(first), JSON.stringify(first));

  await chmod(server.dataDir, 0o755);
  for (const name of Object.keys(first)) if (name !== '.') await chmod(join(server.dataDir, name), 0o644);
  assert.ok(!allPrivate(await modes(server.dataDir)));
  const restarted = await server.restart();
  const again = await modes(server.dataDir);
  assert.ok(allPrivate(again), JSON.stringify(again));

  // An admin command run with a loose umask still leaves private files.
  const r = spawnSync(
    'sh',
    [
      '-c',
      `umask 022; exec "${process.execPath}" "$@"`,
      'sh',
      SERVER_MAIN,
      'admin',
      'users',
      'list',
      '--data-dir',
      server.dataDir,
    ],
    {
      encoding: 'utf8',
    },
  );
  assert.equal(r.status, 0, r.stderr);
  assert.ok(restarted.running);
  const afterAdmin = await modes(server.dataDir);
  assert.ok(allPrivate(afterAdmin), JSON.stringify(afterAdmin));
});
