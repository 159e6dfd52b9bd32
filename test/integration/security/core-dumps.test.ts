/**
 * Core dumps would hold keys. Node cannot set RLIMIT_CORE, so the unit or container turns them off
 * (docs/security.md); sc-server checks its own limit at start and warns when dumps are on, naming the fix.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { SERVER_MAIN, cleanup, tempDir, trackChild, waitFor } from '../../kit/index.js';

after(cleanup);

async function startLog(ulimit: string): Promise<string> {
  const dir = await tempDir('sluice-core-');
  const child = spawn(
    'sh',
    [
      '-c',
      `ulimit -S -c ${ulimit} && exec "$0" "$@"`,
      process.execPath,
      SERVER_MAIN,
      'start',
      ...['--data-dir', join(dir, 'data'), '--rest-address', '127.0.0.1:0'],
      ...['--edge-address', '127.0.0.1:0', '--proxy-address', '127.0.0.1:0'],
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  trackChild(child);
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  await waitFor('sc-server listening', () => out.includes('sc-server listening'));
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
  return out;
}

test('sc-server warns at start when core dumps are on, and not when they are off', async () => {
  const on = await startLog('unlimited');
  assert.match(on, /\[WARN\] core dumps are enabled.*max_core_file_size=unlimited.*LimitCORE=0/);
  const off = await startLog('0');
  assert.doesNotMatch(off, /core dumps/);
});
