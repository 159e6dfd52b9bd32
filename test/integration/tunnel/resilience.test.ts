/**
 * Issue 3, points 5 and 6: a tunnel connection that dies fails only its own streams, promptly; the others carry
 * on, it reconnects, and readiness stays 200 meanwhile. A frozen peer (SIGSTOP) is caught by the keepalive and
 * its streams fail instead of hanging.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, test } from 'node:test';
import { cleanup, startClient, startServer, waitFor, type TestServer } from '../../kit/index.js';

afterEach(cleanup);

interface Reply {
  status: number;
  error: string | undefined;
  body: string;
}

/** An origin whose /hold requests wait until released; others answer at once. */
async function holdingOrigin(t: { after(fn: () => unknown): void }) {
  const held: http.ServerResponse[] = [];
  const srv = http.createServer((req, res) => {
    if (req.url === '/hold') held.push(res);
    else res.end('quick');
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  t.after(() => {
    srv.closeAllConnections();
    srv.close();
  });
  return { base: `http://127.0.0.1:${(srv.address() as AddressInfo).port}`, held };
}

function viaProxy(server: TestServer, tunnel: string, url: string): Promise<Reply> {
  const [host, port] = server.info.proxy_address.split(':');
  const { username, accessKey } = server.admin;
  const auth = 'Basic ' + Buffer.from(`${username};tunnel=${tunnel}:${accessKey}`).toString('base64');
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host, port: Number(port), path: url, agent: false, headers: { 'proxy-authorization': auth } },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            error: res.headers['x-sluice-error'] as string | undefined,
            body,
          }),
        );
        res.on('error', () => resolve({ status: -1, error: 'reset', body }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

function apiUrl(output: string): string {
  const m = /API server listening address=([\d.]+:\d+)/.exec(output);
  assert.ok(m, 'sc logs its API address');
  return `http://${m[1]}`;
}

async function status(url: string): Promise<number> {
  return new Promise((resolve) => {
    http
      .get(url, { agent: false }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      })
      .on('error', () => resolve(0));
  });
}

test('a cut tunnel connection fails only its streams; the other carries on, it reconnects, readiness stays up', async (t) => {
  const origin = await holdingOrigin(t);
  const server = await startServer();
  const sc = await startClient(server, {
    tunnelName: 'cut',
    args: ['--tunnel-connections', '2'],
  });
  const api = apiUrl(sc.logs());
  await waitFor('both connections', () => (sc.logs().includes('active=2/2') ? true : undefined));

  // Four held requests spread over the two connections (fewest open streams first).
  const pending = [0, 1, 2, 3].map(() => viaProxy(server, 'cut', `${origin.base}/hold`));
  await waitFor('4 held requests at the origin', () => (origin.held.length === 4 ? true : undefined));

  const readiness: number[] = [];
  const poll = setInterval(() => void status(`${api}/readyz`).then((s) => readiness.push(s)), 50);
  t.after(() => clearInterval(poll));

  // Cut one of sc's TCP connections to the edge (the kernel aborts it; both ends see a reset).
  const edgePort = server.info.edge_address.split(':')[1];
  const conns = execFileSync('ss', ['-Htn', 'state', 'established', `( dport = :${edgePort} )`], {
    encoding: 'utf8',
  })
    .trim()
    .split('\n')
    .filter(Boolean);
  assert.equal(conns.length, 2, `two tunnel connections, got: ${conns.join(' | ')}`);
  const sport = /127\.0\.0\.1:(\d+)\s+127\.0\.0\.1:\d+\s*$/.exec(conns[0]!)?.[1];
  assert.ok(sport);
  // Both ports: a source port alone also matches other tests' sockets that happen to use it, and killing those
  // made a concurrent test wait for ever.
  execFileSync('ss', ['-K', '-tn', 'state', 'established', `( sport = :${sport} and dport = :${edgePort} )`]);

  // The two requests on the cut connection fail with a clear error; the other two are still held.
  const settled: Reply[] = [];
  for (const p of pending) void p.then((r) => settled.push(r));
  await waitFor('the cut connection streams to fail', () => (settled.length >= 2 ? true : undefined), 10_000);
  assert.equal(settled.length, 2, 'only the streams of the cut connection failed');
  // docs/errors.md: a tunnel connection that fails while carrying a request is 502 tunnel_stream_failed.
  for (const r of settled)
    assert.deepEqual([r.status, r.error], [502, 'tunnel_stream_failed'], `failed stream answered ${r.body}`);

  // Release the survivors: they complete normally.
  for (const res of origin.held) if (!res.destroyed) res.end('released');
  const all = await Promise.all(pending);
  assert.equal(all.filter((r) => r.status === 200 && r.body === 'released').length, 2);

  // New requests work, the link came back, and readiness never dropped.
  assert.equal((await viaProxy(server, 'cut', `${origin.base}/quick`)).status, 200);
  await waitFor(
    'reconnect',
    () => ((sc.logs().match(/active=2\/2/g) ?? []).length >= 2 ? true : undefined),
    15_000,
  );
  clearInterval(poll);
  assert.ok(readiness.length > 0);
  assert.ok(
    readiness.every((s) => s === 200),
    `readiness samples: ${readiness.join(',')}`,
  );
});

test('a frozen client (SIGSTOP) is detected by the keepalive: its streams fail instead of hanging', async (t) => {
  const origin = await holdingOrigin(t);
  const server = await startServer({
    args: ['--tunnel-keepalive-interval', '500ms', '--tunnel-keepalive-timeout', '1s'],
  });
  const sc = await startClient(server, {
    tunnelName: 'frozen',
    args: [
      '--tunnel-connections',
      '1',
      '--tunnel-keepalive-interval',
      '500ms',
      '--tunnel-keepalive-timeout',
      '1s',
    ],
  });
  const held = viaProxy(server, 'frozen', `${origin.base}/hold`);
  await waitFor('held request at the origin', () => (origin.held.length === 1 ? true : undefined));
  process.kill(sc.proc.pid!, 'SIGSTOP');
  t.after(() => {
    try {
      process.kill(sc.proc.pid!, 'SIGCONT');
    } catch {
      // already gone
    }
  });
  // The deadline here only guards against a hang; detection is configured at 0.5 s + 1 s.
  const r = await Promise.race([
    held,
    new Promise<Reply>((res) => setTimeout(() => res({ status: 0, error: 'hang', body: '' }), 15_000)),
  ]);
  // docs/errors.md: the stream failed with its connection (502 tunnel_stream_failed); within --tunnel-grace the
  // tunnel is known but has no usable connection (503 tunnel_unavailable).
  assert.deepEqual([r.status, r.error], [502, 'tunnel_stream_failed'], `held request ended: ${r.body}`);
  const next = await viaProxy(server, 'frozen', `${origin.base}/quick`);
  assert.deepEqual([next.status, next.error], [503, 'tunnel_unavailable'], next.body);

  // Thawed, the client notices the dead session, reconnects, and serves again.
  process.kill(sc.proc.pid!, 'SIGCONT');
  await waitFor(
    'reconnect after SIGCONT',
    async () =>
      (await viaProxy(server, 'frozen', `${origin.base}/quick`)).status === 200 ? true : undefined,
    20_000,
  );
});
