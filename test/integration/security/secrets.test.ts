/**
 * Secrets stay out of process titles, logs, /configz and error messages. `sc` rewrites its process title with
 * secret flag values masked, so /proc/PID/cmdline (what `ps` shows) no longer holds the --access-key given on the
 * command line. The env var / config file remain the recommendation (docs/security.md): for the moment between
 * exec and the rewrite the key is visible.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import {
  apiGet,
  cleanup,
  proxyGet,
  rest,
  startClient,
  startHttpApp,
  startServer,
  type Origin,
  type TestServer,
} from '../../kit/index.js';

let app: Origin;
let server: TestServer;
before(async () => {
  app = await startHttpApp();
  server = await startServer({ args: ['--log-level', 'debug'] });
});
after(cleanup);

test('sc run --access-key KEY: the key is not in /proc/PID/cmdline, its logs or /configz', async () => {
  const client = await startClient(server, { tunnelName: 'titles' });
  const key = server.admin.accessKey;
  assert.ok(key.length >= 16);
  const cmdline = readFileSync(`/proc/${client.proc.pid}/cmdline`, 'latin1');
  assert.ok(!cmdline.includes(key), `cmdline shows the key: ${JSON.stringify(cmdline)}`);
  assert.match(cmdline, /^sc run .*--access-key \*\*\*\*/);
  assert.match(cmdline, /--username admin/, 'the rest of the command line is still there to read');

  assert.equal(
    (await proxyGet(server, { ...server.admin, tunnel: 'titles' }, `${app.url}/hello`)).status,
    200,
  );
  const configz = await apiGet(client.apiUrl, '/configz');
  assert.equal(configz.status, 200);
  assert.ok(!configz.body.includes(key), configz.body);
  assert.ok(!client.logs().includes(key), 'sc logs hold the key');
  assert.ok(!server.logs().includes(key), 'sc-server logs hold the key');
});

test('wrong keys are not echoed: proxy entry, REST, and sc exiting on them', async () => {
  const wrong = 'WrongKey-0123456789abcdef';
  const p = await proxyGet(server, { username: 'admin', accessKey: wrong, tunnel: 'titles' }, `${app.url}/`);
  assert.equal(p.status, 407);
  assert.ok(!JSON.stringify(p).includes(wrong));
  const r = await rest(server, 'GET', '/admin/tunnels', { username: 'admin', accessKey: wrong });
  assert.equal(r.status, 401, r.text);
  assert.ok(!r.text.includes(wrong));
  const bad = await startClient(server, {
    tunnelName: 'bad',
    accessKey: wrong,
    waitReady: false,
    waitApi: false,
  });
  const exit = await bad.waitExit();
  assert.notEqual(exit.code, 0);
  assert.ok(!bad.logs().includes(wrong), bad.logs());
  assert.match(bad.logs(), /401|credentials|access key/i);
  assert.ok(!server.logs().includes(wrong), 'sc-server logs hold the wrong key');
});
