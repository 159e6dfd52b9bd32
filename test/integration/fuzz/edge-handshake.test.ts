/**
 * Property: whatever reaches the tunnel edge (bytes before TLS, malformed or wrong handshakes, a stopped
 * tunnel's token replayed, odd protocol versions, and after a 101 hostile HTTP/2 frames from a fake sc) is
 * answered with a 4xx or closed within a bound, never a 5xx; sc-server keeps running and a real tunnel keeps
 * serving after every batch. Seed and runs: test/fuzz/settings.ts.
 */
import { after, before, test } from 'node:test';
import fc from 'fast-check';
import assert from 'node:assert/strict';
import {
  cleanup,
  rest,
  startClient,
  startHttpApp,
  startServer,
  type Origin,
  type TestClient,
  type TestServer,
} from '../../kit/index.js';
import { checkAnswer, healthy, newTally, summary } from '../../fuzz/checks.js';
import { createTunnel, edgeExchange } from '../../fuzz/edge.js';
import { edgeInputArb, type EdgeFuzzEnv } from '../../fuzz/handshake.js';
import { assertProperty, params } from '../../fuzz/settings.js';
import { sourceAddress } from '../../fuzz/wire.js';

after(cleanup);

const TUNNEL = 'fuzz-edge-health';
let server: TestServer;
let client: TestClient;
let app: Origin;
let env: EdgeFuzzEnv;

before(async () => {
  // A long grace, so the target tunnel stays running although fuzzed connections to it come and go.
  server = await startServer({ args: ['--tunnel-grace', '1h'] });
  app = await startHttpApp();
  client = await startClient(server, { tunnelName: TUNNEL });
  const stopped = await createTunnel(server, server.admin, 'edge-fuzz-stopped');
  const del = await rest(server, 'DELETE', `/${server.admin.username}/tunnels/${stopped.id}`, server.admin);
  assert.equal(del.status, 200, del.text);
  env = { live: await createTunnel(server, server.admin, 'edge-fuzz-target'), stopped };
});

test('tunnel edge: hostile handshakes and HTTP/2 frames get a 4xx or a close, and nothing falls over', async () => {
  const tally = newTally();
  await assertProperty(
    fc.asyncProperty(
      fc.array(fc.tuple(edgeInputArb(env), fc.nat()), { minLength: 10, maxLength: 10 }),
      async (batch) => {
        const answers = await Promise.all(
          batch.map(([input, src]) =>
            edgeExchange(server, [input.head], {
              plain: input.plain,
              localAddress: sourceAddress(src),
              boundMs: 20_000,
            }).then((a) => ({ a, input })),
          ),
        );
        for (const { a, input } of answers) {
          checkAnswer(a, input.label, tally);
          if (a.status !== null && a.status !== 101)
            assert.ok(a.status >= 400 && a.status < 500, input.label);
        }
        await healthy(server, client, TUNNEL, app.url);
      },
    ),
    params('edge handshake', 20),
  );
  process.stdout.write(`# edge handshake: ${summary(tally)}\n`);
});
