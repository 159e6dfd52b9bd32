/**
 * Readiness means routable, on every signal users wait for (docs/decisions/0004-readiness.md): the instant sc's
 * output contains "you may start your tests" (matched the way SC4-era scripts do, `grep -i`), the instant its
 * /readyz turns 200, and the instant the tunnel's REST `is_ready` turns true, a request through the proxy entry
 * reaches the private app. Twenty fresh tunnels on one server, each watched by all three at once.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  apiGet,
  cleanup,
  proxyRequest,
  rest,
  sleep,
  startClient,
  startHttpApp,
  startServer,
  type Origin,
  type TestClient,
  type TestServer,
} from '../../kit/index.js';

let server: TestServer;
let app: Origin;

before(async () => {
  server = await startServer();
  app = await startHttpApp();
});
after(cleanup);

const TUNNELS = 20;
const BATCH = 4;
// What a naive script greps for: any line with the phrase, in any case.
const NAIVE_READY = /you may start your tests/i;

interface Outcome {
  signal: string;
  tunnel: string;
  status: number;
  error: string;
}

/** Polls `check` until it is true (every `everyMs`), then sends one request through the proxy at once. */
async function onSignal(
  signal: string,
  tunnel: string,
  check: () => Promise<boolean>,
  stop: { done: boolean },
  everyMs: number,
): Promise<Outcome> {
  while (!stop.done) {
    if (await check()) return send(signal, tunnel);
    await sleep(everyMs);
  }
  return { signal, tunnel, status: 0, error: 'never saw the signal' };
}

async function send(signal: string, tunnel: string): Promise<Outcome> {
  const auth = { username: server.admin.username, accessKey: server.admin.accessKey, tunnel };
  const res = await proxyRequest(server, auth, {
    url: `${app.url}/ready-probe/${encodeURIComponent(signal)}`,
  });
  return {
    signal,
    tunnel,
    status: res.status,
    error: `${String(res.headers['x-sluice-error'] ?? '')} ${res.body.toString().slice(0, 200)}`,
  };
}

async function oneTunnel(n: number): Promise<Outcome[]> {
  const tunnel = `ready-${n}`;
  const sc: TestClient = await startClient(server, { tunnelName: tunnel, waitReady: false });
  const stop = { done: false };
  const creds = { username: server.admin.username, accessKey: server.admin.accessKey };
  const limit = setTimeout(() => (stop.done = true), 30_000);
  try {
    const results = await Promise.all([
      sc
        .waitForLog(NAIVE_READY, 30_000)
        .then(() => send('log line', tunnel))
        .catch((err: unknown) => ({ signal: 'log line', tunnel, status: 0, error: String(err) })),
      onSignal('/readyz', tunnel, async () => (await apiGet(sc.apiUrl, '/readyz')).status === 200, stop, 10),
      onSignal(
        'REST is_ready',
        tunnel,
        async () => {
          const r = await rest<Record<string, unknown>[]>(
            server,
            'GET',
            `/${creds.username}/tunnels?full=true`,
            creds,
          );
          return r.json.some((t) => t['tunnel_identifier'] === tunnel && t['is_ready'] === true);
        },
        stop,
        10,
      ),
    ]);
    // The phrase is in the ready line only: nothing before it may match a grep for it.
    const phrase = sc.logs().match(/you may start your tests/gi)?.length ?? 0;
    if (phrase !== 1)
      results.push({ signal: 'phrase count', tunnel, status: 0, error: `${phrase} lines\n${sc.logs()}` });
    return results;
  } finally {
    stop.done = true;
    clearTimeout(limit);
    await sc.stop('SIGTERM');
  }
}

test(`${TUNNELS} fresh tunnels: a request sent the instant each readiness signal flips succeeds`, async () => {
  const outcomes: Outcome[] = [];
  for (let i = 0; i < TUNNELS; i += BATCH) {
    const batch = await Promise.all(
      Array.from({ length: Math.min(BATCH, TUNNELS - i) }, (_, k) => oneTunnel(i + k)),
    );
    outcomes.push(...batch.flat());
  }
  const failed = outcomes.filter((o) => o.status !== 200);
  assert.deepEqual(
    failed.map((o) => `${o.signal} ${o.tunnel}: ${o.status} ${o.error}`),
    [],
    `${failed.length} of ${outcomes.length} checks failed`,
  );
  assert.equal(outcomes.length - failed.length, TUNNELS * 3, 'one answered request per signal and tunnel');
});
