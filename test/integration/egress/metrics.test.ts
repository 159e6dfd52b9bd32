/**
 * SC5's request metric families on a real sc's /metrics, after real requests through both plain-HTTP paths
 * (spliced, and per request with `--proxy-splice false`): http_requests_total, http_request_size_bytes,
 * http_response_size_bytes and errors_total are recorded once per request by the one pipeline, so both paths
 * count the same; `promtool check metrics` accepts the output.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, test } from 'node:test';
import {
  apiGet,
  cleanup,
  closedPort,
  proxyRequest,
  startClient,
  startHttpApp,
  startServer,
  type TestServer,
} from '../../kit/index.js';

after(cleanup);

/** The value of one sample, e.g. value(text, 'sauce_connect_http_requests_total{code="200",method="GET"}'). */
function value(text: string, sample: string): number {
  for (const line of text.split('\n')) {
    if (line.startsWith(`${sample} `)) return Number(line.slice(sample.length + 1));
  }
  return 0;
}

/** Labels as prom-client prints them (alphabetical). */
const by = (code: number, method: string): string => `{code="${code}",method="${method}"}`;

async function run(splice: boolean): Promise<{ metrics: string; server: TestServer }> {
  const server = await startServer({ args: splice ? [] : ['--proxy-splice', 'false'] });
  const name = splice ? 'spliced' : 'per-request';
  const client = await startClient(server, { tunnelName: name });
  const app = await startHttpApp();
  const auth = { username: server.admin.username, accessKey: server.admin.accessKey, tunnel: name };
  for (let i = 0; i < 3; i++) {
    const r = await proxyRequest(server, auth, { url: `${app.url}/bytes/1000` });
    assert.equal(r.status, 200);
    assert.equal(r.body.length, 1000);
  }
  const put = await proxyRequest(server, auth, {
    method: 'PUT',
    url: `${app.url}/sha256`,
    body: 'x'.repeat(5000),
  });
  assert.equal(put.status, 200);
  const refused = await proxyRequest(server, auth, { url: `http://127.0.0.1:${await closedPort()}/` });
  assert.equal(refused.status, 502);
  assert.equal(refused.headers['x-sluice-error'], 'dial_refused');
  const res = await apiGet(client.apiUrl, '/metrics');
  assert.equal(res.status, 200);
  return { metrics: res.body, server };
}

test('both paths count every request once: requests, sizes, errors; promtool accepts /metrics', async (t) => {
  const spliced = (await run(true)).metrics;
  const perRequest = (await run(false)).metrics;
  for (const [path, m] of [
    ['spliced', spliced],
    ['per-request', perRequest],
  ] as const) {
    const at = (s: string): number => value(m, s);
    assert.equal(at(`sauce_connect_http_requests_total${by(200, 'GET')}`), 3, `${path}: GET 200`);
    assert.equal(at(`sauce_connect_http_requests_total${by(200, 'PUT')}`), 1, `${path}: PUT 200`);
    assert.equal(at(`sauce_connect_http_requests_total${by(502, 'GET')}`), 1, `${path}: GET 502`);
    assert.equal(at('sauce_connect_errors_total{name="proxy"}'), 1, `${path}: errors_total`);
    assert.equal(
      at('sauce_connect_proxy_errors_total{reason="dial_refused"}'),
      1,
      `${path}: proxy_errors_total`,
    );
    for (const fam of ['request', 'response'])
      assert.equal(
        at(`sauce_connect_http_${fam}_size_bytes_count${by(200, 'GET')}`),
        3,
        `${path}: ${fam} count`,
      );
    // Each 1000-byte answer: the body plus a response head of a few hundred bytes.
    const res = at(`sauce_connect_http_response_size_bytes_sum${by(200, 'GET')}`) / 3;
    assert.ok(res > 1000 && res < 1500, `${path}: response size ${res}`);
    // The upload: the 5000-byte body plus its head went to the target (chunked framing adds a little).
    const up = at(`sauce_connect_http_request_size_bytes_sum${by(200, 'PUT')}`);
    assert.ok(up > 5000 && up < 6000, `${path}: request size ${up}`);
    const inf = 'sauce_connect_http_request_size_bytes_bucket{le="+Inf",code="200",method="GET"}';
    assert.equal(at(inf), 3, `${path}: histogram buckets`);
    // The refused dial sent and received nothing.
    assert.equal(at(`sauce_connect_http_response_size_bytes_sum${by(502, 'GET')}`), 0, `${path}: 502 size`);
  }
  // The target's answers are the same bytes whichever path asked: the pipeline counts them the same way.
  const sum = `sauce_connect_http_response_size_bytes_sum${by(200, 'GET')}`;
  assert.equal(value(spliced, sum), value(perRequest, sum));

  const probe = spawnSync('promtool', ['--version'], { encoding: 'utf8' });
  if (probe.error) {
    t.skip('promtool not installed: run `bash scripts/setup-debian.sh` (Debian package prometheus)');
    return;
  }
  for (const m of [spliced, perRequest]) {
    const check = spawnSync('promtool', ['check', 'metrics'], { input: m, encoding: 'utf8' });
    assert.equal(check.status, 0, `promtool: ${check.stdout}${check.stderr}`);
  }
});
