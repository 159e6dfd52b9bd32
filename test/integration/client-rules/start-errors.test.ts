/**
 * A --debug-address that cannot be bound, or a --http-tls-keylog-file that cannot be opened, stops `sc run` at start
 * with exit code 2 and a message naming the flag, before any tunnel exists on the server.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { cleanup, listTunnels, onCleanup, startClient, startServer, tempDir } from '../../kit/index.js';

after(cleanup);

test('unusable --debug-address or --http-tls-keylog-file: exit 2 naming the flag, no tunnel', async () => {
  const server = await startServer();
  const busy = net.createServer();
  await new Promise<void>((r) => busy.listen(0, '127.0.0.1', r));
  onCleanup(() => new Promise<void>((r) => busy.close(() => r())));
  const port = (busy.address() as net.AddressInfo).port;
  const dir = await tempDir();
  for (const [args, re] of [
    [
      ['--debug-address', `127.0.0.1:${port}`],
      /--debug-address: cannot listen on 127\.0\.0\.1:\d+: EADDRINUSE/,
    ],
    [
      ['--http-tls-keylog-file', join(dir, 'missing', 'keys.log')],
      /--http-tls-keylog-file: cannot open .*ENOENT/,
    ],
  ] as [string[], RegExp][]) {
    const client = await startClient(server, { tunnelName: 'start-errors', args, waitReady: false });
    const exit = await client.waitExit();
    assert.equal(exit.code, 2, client.logs());
    assert.match(client.logs(), re);
    assert.doesNotMatch(client.logs(), /\n\s+at /, 'no stack trace');
  }
  assert.deepEqual(await listTunnels(server, server.admin), []);
});
