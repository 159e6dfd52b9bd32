/**
 * Issue 3: the client rides out a server restart. The server comes back on the same data dir and the same
 * addresses (the client only knows the REST URL it was given); the client reconnects by itself and traffic
 * flows again through the same tunnel name.
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import {
  apiGet,
  cleanup,
  listTunnels,
  proxyRequest,
  startClient,
  startHttpApp,
  startServer,
  waitFor,
} from '../../kit/index.js';

after(cleanup);

test('client reconnects after the server restarts and traffic flows again', async () => {
  const app = await startHttpApp();
  const first = await startServer();
  const client = await startClient(first, { tunnelName: 'phoenix' });
  const auth = { ...first.admin, tunnel: 'phoenix' };
  const before = await proxyRequest(first, auth, { url: `${app.url}/before` });
  assert.equal(before.status, 200);
  const { tunnel_id: id } = JSON.parse((await apiGet(client.apiUrl, '/info')).body) as { tunnel_id: string };

  const second = await first.restart();
  assert.equal(second.proxyAddress, first.proxyAddress, 'restart on the same proxy address');
  const logs = (): string => `${client.process.describe()}\n${second.process.describe()}`;

  const after = await waitFor(
    'a request through the restarted server to succeed',
    async () => {
      const r = await proxyRequest(second, auth, { url: `${app.url}/after`, timeoutMs: 5000 });
      return r.status === 200 ? r : undefined;
    },
    30_000,
    logs,
  );
  assert.equal((JSON.parse(after.body.toString()) as { url: string }).url, '/after');
  assert.ok(client.process.running, 'the client exited instead of reconnecting');
  assert.equal((await apiGet(client.apiUrl, '/readyz')).status, 200);
  assert.deepEqual(await listTunnels(second, second.admin), [id], 'the same tunnel is still the one listed');
  assert.equal((await client.stop('SIGINT')).code, 0, logs());
});
