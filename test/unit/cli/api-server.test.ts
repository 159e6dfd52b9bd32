/**
 * The local API over real loopback sockets, against a ClientState driven by the test: routes, readiness
 * transitions, basic auth, idle timeout, and /metrics accepted by a real `promtool check metrics`.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import http from 'node:http';
import net from 'node:net';
import { after, test } from 'node:test';
import { createApiServer, listenApiServer } from '../../../src/client/api/api-server.js';
import { createClientMetrics } from '../../../src/client/api/metrics.js';
import type { ClientState, TunnelInfo } from '../../../src/client/client-handle.js';
import { defaultRunOptions, redactedConfig } from '../../../src/options/index.js';

interface FakeState extends ClientState {
  ready: boolean;
  alive: boolean;
  tunnel: TunnelInfo | null;
}

function fakeState(): FakeState {
  const s: FakeState = {
    ready: false,
    alive: true,
    tunnel: null,
    isReady: () => s.ready,
    isAlive: () => s.alive,
    info: () => s.tunnel,
    connections: () => ({ active: s.ready ? 2 : 0, wanted: 2 }),
  };
  return s;
}

const servers: http.Server[] = [];
after(() => {
  for (const s of servers) {
    s.closeAllConnections();
    s.close();
  }
});

async function start(cfg: { basicAuth?: string; idleTimeoutMs?: number; address?: string } = {}): Promise<{
  url: string;
  state: FakeState;
  logged: string;
  metrics: ReturnType<typeof createClientMetrics>;
}> {
  const state = fakeState();
  const metrics = createClientMetrics();
  const server = createApiServer(
    { basicAuth: cfg.basicAuth ?? '', idleTimeoutMs: cfg.idleTimeoutMs ?? 3_600_000, tunnelName: 'ci-1' },
    {
      state,
      metrics,
      configz: () =>
        redactedConfig({ ...defaultRunOptions(), accessKey: 'TOP-SECRET-KEY', username: 'alice' }),
      version: { version: '9.9.9', commit: 'abc' },
    },
  );
  servers.push(server);
  const logged = await listenApiServer(server, cfg.address ?? '127.0.0.1:0');
  const port = (server.address() as net.AddressInfo).port;
  return { url: `http://127.0.0.1:${port}`, state, logged, metrics };
}

async function get(
  url: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: string; type: string }> {
  const res = await fetch(url, { headers });
  return { status: res.status, body: await res.text(), type: res.headers.get('content-type') ?? '' };
}

test('readiness and health routes follow the client state', async () => {
  const { url, state, logged } = await start();
  assert.match(logged, /^127\.0\.0\.1:\d+$/);
  for (const path of ['/readyz', '/readiness']) {
    assert.deepEqual(await get(url + path).then((r) => [r.status, r.body]), [503, 'Service Unavailable']);
  }
  for (const path of ['/healthz', '/liveness']) assert.equal((await get(url + path)).status, 200);
  state.ready = true;
  for (const path of ['/readyz', '/readiness']) {
    assert.deepEqual(await get(url + path).then((r) => [r.status, r.body]), [200, 'OK']);
  }
  state.ready = false;
  state.alive = false;
  assert.equal((await get(url + '/readyz')).status, 503);
  assert.equal((await get(url + '/healthz')).status, 503);
  assert.equal((await get(url + '/nope')).status, 404);
  assert.equal((await fetch(url + '/readyz', { method: 'POST' })).status, 405);
});

test('/info, /configz (secrets masked) and /version', async () => {
  const { url, state } = await start();
  const before = JSON.parse((await get(url + '/info')).body) as TunnelInfo;
  assert.deepEqual(before, { tunnel_id: '', tunnel_name: 'ci-1', tunnel_server: '', tunnel_host: '' });
  state.tunnel = {
    tunnel_id: 'abc',
    tunnel_name: 'ci-1',
    tunnel_server: '127.0.0.1:4000',
    tunnel_host: 'localhost',
  };
  const info = await get(url + '/info');
  assert.equal(info.type, 'application/json');
  assert.deepEqual(JSON.parse(info.body), state.tunnel);
  const configz = await get(url + '/configz');
  assert.match(configz.body, /^username=alice$/m);
  assert.match(configz.body, /^access-key=\*\*\*\*$/m);
  assert.match(configz.body, /^api-idle-timeout=1h0m0s$/m);
  assert.doesNotMatch(configz.body, /TOP-SECRET-KEY/);
  assert.deepEqual(JSON.parse((await get(url + '/version')).body), { version: '9.9.9', commit: 'abc' });
});

test('--api-basic-auth: 401 without or with wrong credentials, 200 with them (URL-decoded)', async () => {
  const { url, state } = await start({ basicAuth: 'ci:p%40ss' });
  state.ready = true;
  const none = await fetch(url + '/readyz');
  assert.equal(none.status, 401);
  assert.match(none.headers.get('www-authenticate') ?? '', /^Basic /);
  const basic = (u: string, p: string): string => 'Basic ' + Buffer.from(`${u}:${p}`).toString('base64');
  assert.equal((await get(url + '/readyz', { authorization: basic('ci', 'wrong') })).status, 401);
  assert.equal((await get(url + '/metrics', { authorization: basic('ci', 'p%40ss') })).status, 401);
  assert.equal((await get(url + '/readyz', { authorization: basic('ci', 'p@ss') })).status, 200);
});

/** A keep-alive connection whose one request has been answered: `closed` settles when the server closes it. */
async function idleConnection(
  url: string,
): Promise<{ sock: net.Socket; closed: Promise<void>; isClosed(): boolean }> {
  const sock = net.connect(Number(new URL(url).port), '127.0.0.1');
  let isClosed = false;
  const closed = new Promise<void>((r) =>
    sock.on('close', () => {
      isClosed = true;
      r();
    }),
  );
  let received = '';
  const answered = new Promise<void>((r) =>
    sock.on('data', (d) => {
      received += d.toString();
      if (received.includes('\r\n\r\n')) r();
    }),
  );
  sock.write('GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n\r\n');
  await answered;
  assert.match(received, /^HTTP\/1\.1 200/);
  return { sock, closed, isClosed: () => isClosed };
}

test('--api-idle-timeout closes an idle keep-alive connection; a longer one keeps its connection open', async () => {
  // Node's own keep-alive timeout (5 s) would close both alike: the connection on the server with the long
  // timeout is opened first, so if the setting were ignored it would close first and this test would fail.
  const long = await start({ idleTimeoutMs: 3_600_000 });
  const short = await start({ idleTimeoutMs: 300 });
  const control = await idleConnection(long.url);
  const idle = await idleConnection(short.url);
  const timer = setTimeout(() => idle.sock.destroy(new Error('still open after 20 s')), 20_000);
  await idle.closed;
  clearTimeout(timer);
  assert.equal(idle.sock.errored, null, 'the server closed the idle connection');
  assert.equal(control.isClosed(), false, 'the connection under the long --api-idle-timeout is still open');
  control.sock.destroy();
});

test('":PORT" listens on all interfaces and is logged as ":PORT"', async () => {
  const { url, logged } = await start({ address: ':0' });
  const port = new URL(url).port;
  assert.equal(logged, `:${port}`);
  assert.equal((await get(`http://127.0.0.1:${port}/healthz`)).status, 200);
});

test('/metrics: sauce_connect_* names, accepted by promtool check metrics', async (t) => {
  const { url, state, metrics } = await start();
  state.ready = true;
  metrics.httpRequestsTotal.inc({ code: '200', method: 'GET' });
  metrics.httpRequestDuration.observe({ code: '200', method: 'GET' }, 0.02);
  metrics.httpRequestsInFlight.set({ method: 'GET' }, 0);
  metrics.proxyErrorsTotal.inc({ reason: 'dial_refused' });
  metrics.dialerDialedTotal.inc({ host: 'app:3000' });
  metrics.dialerErrorsTotal.inc({ host: 'app:3000' });
  metrics.dialerClosedTotal.inc({ host: 'app:3000' });
  metrics.tunnelDialerDialedTotal.inc({ host: 'edge:443' });
  metrics.tunnelDialerErrorsTotal.inc({ host: 'edge:443' });
  metrics.tunnelDialerClosedTotal.inc({ host: 'edge:443' });
  metrics.tunnelErrorsTotal.inc({ type: 'keepalive' });
  metrics.tunnelConnectDuration.observe({ address: 'edge:443' }, 0.1);
  metrics.tunnelReceivedBytes.inc({ conn: '0' }, 1234);
  metrics.tunnelSentBytes.set({ conn: '0' }, 99);
  metrics.tunnelInfo.set({ addr: 'edge:443', hostname: 'localhost', id: 'abc', name: 'ci-1' }, 1);
  const res = await get(url + '/metrics');
  assert.equal(res.status, 200);
  assert.match(res.type, /^text\/plain/);
  for (const name of [
    'sauce_connect_http_requests_total{code="200",method="GET"} 1',
    'sauce_connect_http_request_duration_seconds_bucket',
    'sauce_connect_http_requests_in_flight',
    'sauce_connect_proxy_errors_total{reason="dial_refused"} 1',
    'sauce_connect_dialer_dialed_total',
    'sauce_connect_dialer_errors_total',
    'sauce_connect_dialer_closed_total',
    'sauce_connect_tunnel_dialer_dialed_total',
    'sauce_connect_tunnel_dialer_errors_total',
    'sauce_connect_tunnel_dialer_closed_total',
    'sauce_connect_tunnel_errors_total{type="keepalive"} 1',
    'sauce_connect_tunnel_connect_duration_seconds_bucket',
    'sauce_connect_tunnel_received_bytes{conn="0"} 1234',
    'sauce_connect_tunnel_sent_bytes{conn="0"} 99',
    'sauce_connect_tunnel_info{addr="edge:443",hostname="localhost",id="abc",name="ci-1"} 1',
    'sauce_connect_tunnel_connections 2',
    'sauce_connect_version{',
    'sauce_connect_process_cpu_seconds_total',
    'sauce_connect_process_resident_memory_bytes',
    'sauce_connect_process_start_time_seconds',
  ]) {
    assert.ok(res.body.includes(name), `${name} in /metrics`);
  }
  const probe = spawnSync('promtool', ['--version'], { encoding: 'utf8' });
  if (probe.error) {
    t.skip('promtool not installed: run `bash scripts/setup-debian.sh` (Debian package prometheus)');
    return;
  }
  const check = spawnSync('promtool', ['check', 'metrics'], { input: res.body, encoding: 'utf8' });
  assert.equal(check.status, 0, `promtool check metrics:\n${check.stdout}${check.stderr}`);
});
