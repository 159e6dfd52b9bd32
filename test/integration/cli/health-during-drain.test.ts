/**
 * The local API of a real sc through a graceful stop (docs/cli.md, docs/decisions/0004-readiness.md): once
 * SIGTERM starts the drain, /readyz is 503 (nothing new should start) while /healthz stays 200 (a liveness probe
 * must not kill a process finishing its requests); the request in flight completes; then sc exits 0 and the API
 * is gone. /healthz answers 503 only once the client has stopped, which is the moment the API closes, so on a
 * real sc it is never seen answering 503 (test/unit/cli/api-server.test.ts covers that state in process).
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, test } from 'node:test';
import { apiGet, cleanup, onCleanup, proxyGet, startClient, startServer, waitFor } from '../../kit/index.js';

after(cleanup);

test('draining: /readyz 503, /healthz 200, the request in flight completes, then exit 0 and no API', async () => {
  const held: http.ServerResponse[] = [];
  const app = http.createServer((_req, res) => held.push(res));
  await new Promise<void>((r) => app.listen(0, '127.0.0.1', r));
  onCleanup(() => new Promise<void>((r) => app.close(() => r())));
  const url = `http://127.0.0.1:${(app.address() as AddressInfo).port}/hold`;

  const server = await startServer();
  const sc = await startClient(server, { tunnelName: 'drain' });
  assert.equal((await apiGet(sc.apiUrl, '/healthz')).status, 200);
  const pending = proxyGet(server, { ...server.admin, tunnel: 'drain' }, url);
  await waitFor('the request to reach the app', () => held.length === 1);

  sc.proc.kill('SIGTERM');
  await sc.waitForLog(/shutting down/);
  assert.equal((await apiGet(sc.apiUrl, '/readyz')).status, 503, 'not ready while draining');
  assert.equal((await apiGet(sc.apiUrl, '/healthz')).status, 200, 'alive while draining');
  assert.equal((await apiGet(sc.apiUrl, '/liveness')).status, 200);
  assert.ok(sc.running);

  held[0]!.end('finished during the drain');
  const r = await pending;
  assert.equal(r.status, 200, r.body);
  assert.equal(r.body, 'finished during the drain');
  const exit = await sc.waitExit();
  assert.equal(exit.code, 0, sc.logs());
  assert.equal((await apiGet(sc.apiUrl, '/healthz')).status, 0, 'the API closed with the process');
});
