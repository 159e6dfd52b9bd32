/**
 * Issue 3, point 8: every failure has a metric label. sc-server counts what its proxy entry answered, by status
 * and by X-Sluice-Error code (including codes relayed from sc), at /metrics; promtool accepts the output.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import net from 'node:net';
import { afterEach, test } from 'node:test';
import { cleanup, proxyGet, rest, startClient, startOrigin, startServer, waitFor } from '../../kit/index.js';

afterEach(cleanup);

test('sc-server /metrics counts proxy answers by code and error reason, and passes promtool', async (t) => {
  const origin = await startOrigin();
  const server = await startServer({ args: ['--rest-metrics'] });
  const ADMIN = server.admin;
  const sc = await startClient(server, { tunnelName: 'm' });
  const creds = { username: ADMIN.username, accessKey: ADMIN.accessKey, tunnel: 'm' };
  assert.equal((await proxyGet(server, creds, origin.url)).status, 200);
  assert.equal((await proxyGet(server, { ...creds, accessKey: 'wrong-key-000000' }, origin.url)).status, 407);
  assert.equal((await proxyGet(server, { ...creds, tunnel: 'nope' }, origin.url)).status, 403);
  // A port with nothing listening: sc answers 502 dial_refused, which the server relays and counts.
  const closed = net.createServer();
  await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
  const port = (closed.address() as net.AddressInfo).port;
  await new Promise<void>((r) => closed.close(() => r()));
  const refused = await proxyGet(server, creds, `http://127.0.0.1:${port}/`);
  assert.equal(refused.status, 502);
  assert.equal(refused.error, 'dial_refused');

  const res = await rest(server, 'GET', '/../../metrics', null);
  assert.equal(res.status, 200);
  const text = res.text;
  assert.match(text, /sluice_server_proxy_requests_total\{code="200",method="GET"\} 1/);
  assert.match(text, /sluice_server_proxy_errors_total\{reason="proxy_auth_required"\} 1/);
  assert.match(text, /sluice_server_proxy_errors_total\{reason="tunnel_not_found"\} 1/);
  assert.match(text, /sluice_server_proxy_errors_total\{reason="dial_refused"\} 1/);
  assert.match(text, /sluice_server_live_tunnels 1/);
  assert.doesNotMatch(text, new RegExp(ADMIN.accessKey));

  // sc's side of the same story: per-request counters, the relayed error's reason, and tunnel byte counts.
  await waitFor('byte metrics', async () => {
    const m = await sc.metrics();
    return /sauce_connect_tunnel_received_bytes\{conn="\d+"\} [1-9]/.test(m) ? m : undefined;
  });
  const scText = await sc.metrics();
  assert.match(scText, /sauce_connect_http_requests_total\{code="200",method="GET"\} 1/);
  assert.match(scText, /sauce_connect_proxy_errors_total\{reason="dial_refused"\} 1/);
  assert.match(scText, /sauce_connect_tunnel_sent_bytes\{conn="\d+"\} [1-9]/);

  const promtool = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
  if (promtool.error) return t.skip('promtool not installed (scripts/setup-debian.sh installs it)');
  assert.equal(promtool.status, 0, promtool.stdout + promtool.stderr);
});
