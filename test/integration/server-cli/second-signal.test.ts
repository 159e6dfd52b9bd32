/**
 * sc-server's second signal (docs/server.md "Signals", docs/errors.md): the first SIGTERM/SIGINT drains (GOAWAY
 * to every tunnel connection, then waits for them to close); a second one during that wait exits at once with
 * code 1. A frozen sc (SIGSTOP) keeps its tunnel connections open, so the drain cannot finish by itself; the
 * server's keepalive timeout is raised so that it does not close them either while the test runs.
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { cleanup, startClient, startServer } from '../../kit/index.js';

after(cleanup);

for (const [first, second] of [
  ['SIGTERM', 'SIGTERM'],
  ['SIGINT', 'SIGTERM'],
] as const) {
  test(`${first} then ${second} while draining: sc-server exits at once with code 1`, async () => {
    const server = await startServer({ args: ['--tunnel-keepalive-timeout', '10m'] });
    const sc = await startClient(server, { tunnelName: `frozen-${first}` });
    sc.proc.kill('SIGSTOP');
    try {
      server.proc.kill(first);
      await server.process.waitForLog(/shutting down/);
      assert.ok(server.running, 'the drain waits for the frozen client');
      server.proc.kill(second);
      const exit = await server.process.waitExit(10_000);
      assert.equal(exit.code, 1, server.logs());
      assert.match(server.logs(), /second signal, exiting now/);
    } finally {
      sc.proc.kill('SIGCONT');
    }
  });
}
