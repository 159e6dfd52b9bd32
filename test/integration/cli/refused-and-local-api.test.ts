/**
 * sc's exit code 5 (the server refused the tunnel for a reason other than credentials, docs/errors.md), and the
 * local API of a real sc (not a fake state): /readyz follows the tunnel, /healthz the process, /metrics the
 * connections, when the server goes away and comes back.
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { ExitCode } from '../../../src/client/exit-codes.js';
import { apiGet, cleanup, rest, startClient, startServer, waitFor } from '../../kit/index.js';

after(cleanup);

test('a service account may not start a tunnel: sc says why and exits 5, no tunnel is created', async () => {
  const server = await startServer();
  const made = await rest<{ access_key: string }>(server, 'POST', '/admin/users', server.admin, {
    username: 'robot',
    role: 'service_account',
  });
  assert.equal(made.status, 201, made.text);
  const sc = await startClient(server, {
    tunnelName: 'refused',
    username: 'robot',
    accessKey: made.json.access_key,
    waitReady: false,
  });
  assert.equal((await sc.waitExit()).code, ExitCode.REFUSED, sc.logs());
  assert.match(sc.logs(), /refused POST \S+ \(403\): service accounts cannot start tunnels/);
  const robot = { username: 'robot', accessKey: made.json.access_key };
  assert.deepEqual((await rest(server, 'GET', '/robot/tunnels', robot)).json, []);
});

/** The value of an unlabelled metric in sc's /metrics (undefined when absent). */
function gauge(text: string, name: string): number | undefined {
  const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(text);
  return m ? Number(m[1]) : undefined;
}

test('a real sc: the server gone, /readyz is 503 while /healthz stays 200 and metrics show no connection; back again, ready', async () => {
  let server = await startServer();
  const sc = await startClient(server, { tunnelName: 'api' });
  assert.equal((await apiGet(sc.apiUrl, '/healthz')).status, 200);
  assert.equal((await apiGet(sc.apiUrl, '/readyz')).status, 200);
  assert.equal(gauge(await sc.metrics(), 'sauce_connect_tunnel_connections'), 2);

  server = await server.restart();
  // restart() is stop + start: meanwhile sc lost its connections; it must come back by itself.
  await waitFor('sc ready again after the server restart', async () =>
    (await apiGet(sc.apiUrl, '/readyz')).status === 200 ? true : undefined,
  );
  assert.equal((await apiGet(sc.apiUrl, '/healthz')).status, 200);

  await server.kill();
  await waitFor('/readyz 503 without a server', async () =>
    (await apiGet(sc.apiUrl, '/readyz')).status === 503 ? true : undefined,
  );
  assert.equal((await apiGet(sc.apiUrl, '/healthz')).status, 200, 'alive while it redials');
  await waitFor('no tunnel connection in /metrics', async () =>
    gauge(await sc.metrics(), 'sauce_connect_tunnel_connections') === 0 ? true : undefined,
  );
  assert.ok(sc.running);
});
