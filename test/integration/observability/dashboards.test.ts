/**
 * The shipped monitoring files (deploy/prometheus, deploy/grafana) against real programs: promtool accepts the
 * scrape config and the alert rules and passes their unit tests, and every metric that the dashboard and the
 * alerts query exists in the /metrics output of a real sc and a real sc-server (which promtool also accepts).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  apiGet,
  cleanup,
  proxyRequest,
  startClient,
  startHttpApp,
  startServer,
  type TestClient,
  type TestServer,
} from '../../kit/index.js';

const ROOT = resolve(import.meta.dirname, '../../../..');
const PROM = join(ROOT, 'deploy/prometheus');
const DASHBOARD = join(ROOT, 'deploy/grafana/sluice-dashboard.json');

function promtool(args: string[], input?: string): string {
  const r = spawnSync('promtool', args, { cwd: PROM, input, encoding: 'utf8' });
  if (r.error && (r.error as NodeJS.ErrnoException).code === 'ENOENT')
    throw new Error(
      'promtool not found: install Debian\'s "prometheus" package (scripts/setup-debian.sh does)',
    );
  const out = `${r.stdout}${r.stderr}`;
  if (r.status !== 0) throw new Error(`promtool ${args.join(' ')} failed (exit ${r.status}):\n${out}`);
  return out;
}

/** Metric families (and their histogram/summary series names) named by `# TYPE` lines. */
export function seriesNames(exposition: string): Set<string> {
  const names = new Set<string>();
  for (const m of exposition.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    const [, name, type] = m as unknown as [string, string, string];
    names.add(name);
    if (type === 'histogram') for (const s of ['_bucket', '_sum', '_count']) names.add(name + s);
    if (type === 'summary') for (const s of ['_sum', '_count']) names.add(name + s);
  }
  return names;
}

/** Every sauce_connect_* / sluice_server_* name in a PromQL expression. */
export function queriedMetrics(expr: string): string[] {
  return [...expr.matchAll(/\b((?:sauce_connect|sluice_server)_[a-z0-9_]+)\b/g)].map((m) => m[1]!);
}

function dashboardExprs(dashboard: unknown): string[] {
  const out: string[] = [];
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === 'object') {
      for (const [k, x] of Object.entries(v)) {
        if ((k === 'expr' || k === 'definition') && typeof x === 'string') out.push(x);
        else walk(x);
      }
    }
  };
  walk(dashboard);
  return out;
}

describe('monitoring files', () => {
  let server: TestServer;
  let client: TestClient;
  let clientMetrics = '';
  let serverMetrics = '';

  before(async () => {
    server = await startServer({ args: ['--metrics-address', '127.0.0.1:0'] });
    client = await startClient(server, { tunnelName: 'metrics' });
    const app = await startHttpApp();
    // A few requests, one of them failing, so that labelled series have samples too.
    for (const url of [`${app.url}/`, `${app.url}/`, `http://127.0.0.1:1/`]) {
      await proxyRequest(server, { ...server.admin, tunnel: 'metrics' }, { url });
    }
    clientMetrics = (await apiGet(client.apiUrl, '/metrics')).body;
    const r = await fetch(`http://${server.info.metrics_address}/metrics`);
    assert.equal(r.status, 200, 'sc-server serves /metrics on --metrics-address');
    serverMetrics = await r.text();
  });
  after(cleanup);

  it('promtool accepts the scrape config and the alert rules, and the rules pass their unit tests', async () => {
    assert.match(promtool(['check', 'config', 'prometheus.yml']), /SUCCESS/);
    assert.match(promtool(['check', 'rules', 'sluice-alerts.yml']), /SUCCESS: \d+ rules found/);
    assert.match(promtool(['test', 'rules', 'sluice-alerts.test.yml']), /SUCCESS/);
  });

  it('promtool accepts the real /metrics output of both programs', async () => {
    assert.match(clientMetrics, /^sauce_connect_http_requests_total\{/m);
    assert.match(serverMetrics, /^sluice_server_proxy_requests_total\{/m);
    promtool(['check', 'metrics'], clientMetrics);
    promtool(['check', 'metrics'], serverMetrics);
  });

  it('every metric the dashboard and the alerts query exists in real output', async () => {
    const dashboard: unknown = JSON.parse(await readFile(DASHBOARD, 'utf8'));
    const rules = await readFile(join(PROM, 'sluice-alerts.yml'), 'utf8');
    const exprs = [...dashboardExprs(dashboard), rules];
    const wanted = new Set(exprs.flatMap(queriedMetrics));
    assert.ok(wanted.size >= 20, `the dashboard and rules name only ${wanted.size} metrics`);
    const have = new Set([...seriesNames(clientMetrics), ...seriesNames(serverMetrics)]);
    const missing = [...wanted].filter((n) => !have.has(n)).sort();
    assert.deepEqual(missing, [], `queried but not exported: ${missing.join(', ')}`);
  });

  it('the check itself catches a metric that does not exist', () => {
    const have = seriesNames(clientMetrics);
    assert.ok(have.has('sauce_connect_http_request_duration_seconds_bucket'));
    assert.ok(!queriedMetrics('rate(sauce_connect_no_such_thing_total[5m])').every((n) => have.has(n)));
  });
});
