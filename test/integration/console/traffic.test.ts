/**
 * The console's per-tunnel counters (src/server/registry/tunnel-stats.ts) from real traffic through a real `sc`:
 * requests, bytes both ways, failed requests by their X-Sluice-Error code, and the per-second samples behind the
 * live charts. The server runs with --proxy-splice false, so every request is a stream the server sees answered.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  cleanup,
  closedPort,
  proxyGet,
  rest,
  startClient,
  startHttpApp,
  startServer,
  waitFor,
  type TestServer,
} from '../../kit/index.js';
import { consoleCall, consoleSignIn } from '../../kit/console.js';

after(cleanup);

interface Detail {
  tunnel: {
    requests: number;
    bytes_in: number;
    bytes_out: number;
    errors: Record<string, number>;
    connections: number;
    uptime: number;
    client_version: string;
  };
  samples: { t: number; requests: number; bytesIn: number; bytesOut: number; errors: number }[];
}

describe('console traffic counters', { timeout: 120_000 }, () => {
  let server: TestServer;
  let id: string;

  before(async () => {
    server = await startServer({ args: ['--proxy-splice', 'false'] });
    await startClient(server, { tunnelName: 'counted' });
    const ids = await rest<string[]>(server, 'GET', `/${server.admin.username}/tunnels`, server.admin);
    assert.equal(ids.json.length, 1);
    id = ids.json[0]!;
  });

  it('counts requests, bytes and failures by code, and samples them each second', async () => {
    const app = await startHttpApp();
    const auth = { ...server.admin, tunnel: 'counted' };
    for (let i = 0; i < 3; i++) assert.equal((await proxyGet(server, auth, `${app.url}/hello`)).status, 200);
    const refused = await proxyGet(server, auth, `http://127.0.0.1:${await closedPort()}/`);
    assert.equal(refused.status, 502);
    assert.equal(refused.error, 'dial_refused');
    const s = await consoleSignIn(server, server.admin);
    const detail = await waitFor('counters and a sample with the traffic', async () => {
      const r = await consoleCall<Detail>(server, 'GET', `/console/api/tunnels/${id}`, { cookie: s.cookie });
      assert.equal(r.status, 200, r.text);
      const sampled = r.json.samples.reduce((a, p) => a + p.requests, 0);
      const sampledErrors = r.json.samples.reduce((a, p) => a + p.errors, 0);
      return r.json.tunnel.requests >= 4 && sampled >= 4 && sampledErrors >= 1 ? r.json : undefined;
    });
    const t = detail.tunnel;
    assert.equal(t.requests, 4);
    assert.deepEqual(t.errors, { dial_refused: 1 });
    assert.ok(t.bytes_in > 0 && t.bytes_out > 0, JSON.stringify(t));
    assert.ok(t.connections > 0);
    assert.match(t.client_version, /^\d+\.\d+\.\d+/);
    assert.equal(
      detail.samples.reduce((a, p) => a + p.errors, 0),
      1,
    );
    const times = detail.samples.map((p) => p.t);
    assert.deepEqual(
      times,
      [...times].sort((a, b) => a - b),
      'samples oldest first',
    );
    // The list carries the same totals.
    const list = await consoleCall<{ tunnels: { id: string; requests: number }[] }>(
      server,
      'GET',
      '/console/api/tunnels',
      { cookie: s.cookie },
    );
    assert.equal(list.json.tunnels.find((x) => x.id === id)?.requests, 4);
  });
});
