/**
 * Issue 13, point 1: the server's data directory not a directory, read-only, or full (a small tmpfs), at start
 * and full while running. At start: a clear error naming the problem, a non-zero exit, no stack trace. While
 * running: tunnel creation fails with a clear error, the server stays up and serves the tunnels it has, and
 * once the disk is writable again everything works without a restart.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, test } from 'node:test';
import {
  NodeProcess,
  SERVER_MAIN,
  cleanup,
  listTunnels,
  onCleanup,
  proxyRequest,
  startClient,
  startHttpApp,
  startServer,
  tempDir,
} from '../../kit/index.js';

afterEach(cleanup);

const mount = (...args: string[]): void => void execFileSync('mount', args);

/** A tmpfs of `size` at a fresh temp dir, unmounted in cleanup. */
async function tmpfs(size: string): Promise<string> {
  const dir = join(await tempDir('sluice-tmpfs-'), 'mnt');
  await mkdir(dir);
  mount('-t', 'tmpfs', '-o', `size=${size},mode=0700`, 'tmpfs', dir);
  onCleanup(() => execFileSync('umount', ['-l', dir]));
  return dir;
}

/** Fills the filesystem at `dir` (the file is `dir/filler`). */
function fill(dir: string): void {
  try {
    execFileSync('dd', ['if=/dev/zero', `of=${join(dir, 'filler')}`, 'bs=64k'], { stdio: 'ignore' });
  } catch {
    // dd stops with ENOSPC: that is the point
  }
}

async function startFails(dataDir: string): Promise<{ code: number | null; out: string }> {
  const p = new NodeProcess(
    'sc-server',
    SERVER_MAIN,
    [
      'start',
      '--data-dir',
      dataDir,
      '--rest-address',
      '127.0.0.1:0',
      '--proxy-address',
      '127.0.0.1:0',
      '--edge-address',
      '127.0.0.1:0',
    ],
    { ...process.env, SC_ADMIN_USERNAME: 'admin', SC_ADMIN_ACCESS_KEY: 'k'.repeat(24) },
  );
  const exit = await p.waitExit(30_000);
  return { code: exit.code, out: p.logs() };
}

function noStack(out: string): void {
  assert.doesNotMatch(out, /^\s+at /m, `no stack trace:\n${out}`);
}

test('data dir is a file: exit 2 naming it', async () => {
  const file = join(await tempDir(), 'file');
  await writeFile(file, 'x');
  const r = await startFails(file);
  assert.equal(r.code, 2, r.out);
  assert.match(r.out, /is not a directory/);
  noStack(r.out);
});

test('data dir on a read-only filesystem: a clear error, non-zero exit', async () => {
  const dir = await tmpfs('1m');
  mount('-o', 'remount,ro', dir);
  const r = await startFails(join(dir, 'data'));
  assert.notEqual(r.code, 0, r.out);
  assert.match(r.out, /read-only file system/);
  noStack(r.out);
});

test('data dir on a full filesystem at start: a clear error naming the data directory, no stack', async () => {
  const dir = await tmpfs('256k');
  fill(dir);
  const r = await startFails(join(dir, 'data'));
  assert.equal(r.code, 1, r.out);
  assert.match(r.out, /no space left on device.*--data-dir/);
  noStack(r.out);
});

// Read-only while running is not tested: a filesystem with SQLite's file open for writing cannot be remounted
// read-only ("mount point is busy"), and a read-only bind mount leaves the open file writable.
for (const fault of ['full'] as const) {
  test(`data dir turns ${fault} while running: creation fails clearly, running tunnels serve, recovery without restart`, async () => {
    const app = await startHttpApp();
    const dir = await tmpfs('16m');
    const server = await startServer({ dataDir: join(dir, 'data') });
    await startClient(server, { tunnelName: 'before' });
    fill(dir);

    const late = await startClient(server, { tunnelName: 'during', waitReady: false });
    const exit = await late.waitExit(60_000);
    assert.notEqual(exit.code, 0, 'sc cannot create a tunnel and says so');
    assert.match(late.logs(), /fatal error exiting: create tunnel: .*(500|internal|storage)/i);
    assert.ok(server.running, `the server stays up\n${server.logs()}`);
    noStack(late.logs());
    const ok = await proxyRequest(server, { ...server.admin, tunnel: 'before' }, { url: `${app.url}/x` });
    assert.equal(ok.status, 200, `the running tunnel still serves: ${ok.body.toString()}\n${server.logs()}`);

    await rm(join(dir, 'filler'));
    await startClient(server, { tunnelName: 'after' });
    assert.equal((await listTunnels(server, server.admin)).length, 2);
    const again = await proxyRequest(server, { ...server.admin, tunnel: 'after' }, { url: `${app.url}/y` });
    assert.equal(again.status, 200);
  });
}
