/**
 * Property: whatever a client sends to the proxy entry (odd request lines, headers, smuggling shapes, CONNECT
 * targets, proxy credentials), it gets a clear answer (4xx, or a documented 502 for what happened behind the
 * tunnel) or a close within a bound, never a 5xx from our own code; sc-server and sc stay up and a normal
 * request through the tunnel works after every batch. Seed and runs: test/fuzz/settings.ts.
 */
import { after, before, test } from 'node:test';
import fc from 'fast-check';
import {
  cleanup,
  closedPort,
  proxyAuthorization,
  rest,
  startClient,
  startHttpApp,
  startServer,
  type Origin,
  type TestClient,
  type TestServer,
} from '../../kit/index.js';
import { checkAnswer, healthy, newTally, summary } from '../../fuzz/checks.js';
import { proxyRequestArb } from '../../fuzz/http1.js';
import { assertProperty, params } from '../../fuzz/settings.js';
import { exchange, sourceAddress } from '../../fuzz/wire.js';

after(cleanup);

const TUNNEL = 'fuzz-proxy';
let server: TestServer;
let client: TestClient;
let app: Origin;
let closed: number;
let other: { username: string; accessKey: string };

before(async () => {
  server = await startServer();
  app = await startHttpApp();
  closed = await closedPort();
  const made = await rest<{ access_key: string }>(server, 'POST', '/admin/users', server.admin, {
    username: 'fuzz-other',
  });
  if (made.status !== 201) throw new Error(`create user: ${made.status} ${made.text}`);
  other = { username: 'fuzz-other', accessKey: made.json.access_key };
  client = await startClient(server, { tunnelName: TUNNEL });
});

test('proxy entry: hostile HTTP/1.1 requests get a clear answer and nothing falls over', async () => {
  const tally = newTally();
  const env = {
    appPort: app.port,
    closedPort: closed,
    goodAuth: proxyAuthorization({
      username: server.admin.username,
      accessKey: server.admin.accessKey,
      tunnel: TUNNEL,
    }),
    otherUser: other.username,
    otherKey: other.accessKey,
    tunnelName: TUNNEL,
  };
  await assertProperty(
    fc.asyncProperty(
      fc.array(fc.tuple(proxyRequestArb(env), fc.nat(), fc.boolean()), { minLength: 10, maxLength: 10 }),
      async (batch) => {
        const answers = await Promise.all(
          batch.map(([req, src, end]) =>
            exchange({
              port: server.proxyPort,
              localAddress: sourceAddress(src),
              chunks: [req.bytes],
              end,
              boundMs: 15_000,
            }).then((a) => ({ a, label: req.label })),
          ),
        );
        for (const { a, label } of answers) checkAnswer(a, label, tally);
        await healthy(server, client, TUNNEL, app.url);
      },
    ),
    params('proxy entry', 20),
  );
  process.stdout.write(`# proxy entry: ${summary(tally)}\n`);
});
