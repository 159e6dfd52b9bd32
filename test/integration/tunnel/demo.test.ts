/**
 * `npm run demo` is the newcomer's first command: it must bring up a server, a private app and `sc`, carry one
 * request through the tunnel, print what to try by hand, and stop cleanly on Ctrl-C.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';

test('the demo carries a request through the tunnel, prints the curl line, and stops on SIGINT', async (t) => {
  const demo = spawn(process.execPath, [join(import.meta.dirname, '../../../scripts/demo.js')], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.after(() => demo.kill('SIGKILL'));
  let out = '';
  demo.stdout.on('data', (d: Buffer) => (out += d.toString()));
  demo.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((r) => demo.once('exit', (code) => r(code)));
  const deadline = Date.now() + 30_000;
  while (!out.includes('Press Ctrl-C to stop.') && Date.now() < deadline && demo.exitCode === null) {
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.match(out, /-> 200 Hello from the private app!/, out);
  assert.match(
    out,
    /curl -x 'http:\/\/demo;tunnel=demo:[0-9a-f]+@127\.0\.0\.1:\d+' http:\/\/localhost:\d+\/hello/,
  );
  demo.kill('SIGINT');
  assert.equal(await exited, 0);
});
