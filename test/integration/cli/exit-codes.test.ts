/** The documented exit codes of `sc run` (docs/cli.md), one real process each. */
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, test } from 'node:test';
import { ExitCode } from '../../../src/client/exit-codes.js';
import {
  cleanup,
  closedPort,
  listTunnelsFull,
  startClient,
  startServer,
  type TestServer,
} from '../../kit/index.js';

let server: TestServer;
before(async () => {
  server = await startServer();
});
after(cleanup);

test('0: clean stop on SIGTERM', async () => {
  const c = await startClient(server, { tunnelName: 'exit-0' });
  assert.deepEqual(await c.stop('SIGTERM'), { code: ExitCode.OK, signal: null });
});

test('2: configuration error', async () => {
  const c = await startClient(server, {
    tunnelName: 'exit-2',
    args: ['--api-idle-timeout', 'forever'],
    waitApi: false,
    waitReady: false,
  });
  assert.equal((await c.waitExit()).code, ExitCode.CONFIG);
  assert.match(c.logs(), /invalid value "forever" for --api-idle-timeout from the command line/);
});

test('3: the server refuses the credentials', async () => {
  const c = await startClient(server, {
    tunnelName: 'exit-3',
    accessKey: 'not-the-right-key',
    waitReady: false,
  });
  assert.equal((await c.waitExit()).code, ExitCode.AUTH);
  assert.ok(!c.logs().includes('not-the-right-key'), 'the key is not logged');
});

test('4: the server cannot be reached within --start-timeout', async () => {
  const c = await startClient(
    { ...server, restUrl: `https://127.0.0.1:${await closedPort()}/rest/v1` },
    { tunnelName: 'exit-4', args: ['--start-timeout', '1s'], waitReady: false },
  );
  assert.equal((await c.waitExit()).code, ExitCode.UNREACHABLE);
});

test('2: the --api-address is taken; the tunnel is not left behind', async (t) => {
  const taken = net.createServer();
  await new Promise<void>((r) => taken.listen(0, '127.0.0.1', r));
  t.after(() => taken.close());
  const port = (taken.address() as net.AddressInfo).port;
  const c = await startClient(server, {
    tunnelName: 'exit-2-api',
    args: ['--api-address', `127.0.0.1:${port}`],
    waitApi: false,
    waitReady: false,
  });
  assert.equal((await c.waitExit()).code, ExitCode.CONFIG);
  assert.match(c.logs(), new RegExp(`cannot listen on --api-address 127\\.0\\.0\\.1:${port}: .*EADDRINUSE`));
  const auth = { username: server.admin.username, accessKey: server.admin.accessKey };
  const tunnels = await listTunnelsFull(server, auth);
  assert.ok(!tunnels.some((x) => x['tunnel_identifier'] === 'exit-2-api'), 'no tunnel created');
});
