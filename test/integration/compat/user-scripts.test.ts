/**
 * Compatibility: `sc` driven exactly the way existing SC5 users drive it.
 *  - a CI pipeline waits with a curl readiness loop on the local API (env-only configuration, ":PORT");
 *  - node-saucelabs: `sc run --flag=value ... --metadata=runner=... --api-address=:PORT`, /readyz polled every
 *    second, SIGINT to stop and SIGKILL after 10 s;
 *  - the quick start: credentials only in env vars, `sc run --tunnel-name "$SAUCE_TUNNEL_NAME" --region us-west`.
 * House rule: no fixed port. SC5 users write :8032; here the API binds ":0" (all interfaces, like ":8032") and
 * the scripts use the port the API logged.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import {
  apiGet,
  cleanup,
  CLIENT_MAIN,
  listTunnels,
  listTunnelsFull,
  onCleanup,
  proxyRequest,
  sleep,
  tempDir,
  startHttpApp,
  startServer,
  trackChild,
  waitFor,
  within,
  type Origin,
  type TestServer,
} from '../../kit/index.js';

let server: TestServer;
let app: Origin;

before(async () => {
  app = await startHttpApp();
  server = await startServer();
});
after(cleanup);

interface Shell {
  output: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  pid: number;
  kill: (signal: NodeJS.Signals) => void;
  running: () => boolean;
}

/** Runs a shell script the way a CI step or a user would, with a clean SAUCE_* environment plus `env`. */
function sh(script: string, env: Record<string, string>): Shell {
  const base: Record<string, string | undefined> = { ...process.env };
  for (const k of Object.keys(base)) if (k.startsWith('SAUCE_')) delete base[k];
  const child = spawn('sh', ['-c', script], { env: { ...base, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  trackChild(child);
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) =>
    child.once('exit', (code, signal) => r({ code, signal })),
  );
  const running = (): boolean => child.exitCode === null && child.signalCode === null;
  onCleanup(async () => {
    if (running()) child.kill('SIGKILL');
    await exited;
  });
  return { output: () => out, exited, pid: child.pid!, kill: (s) => child.kill(s), running };
}

const SC = `exec "${process.execPath}" "${CLIENT_MAIN}"`;

function apiPort(output: string): number | undefined {
  const m = /API server listening address=:(\d+)/.exec(output);
  return m ? Number(m[1]) : undefined;
}

test('CI pipeline: env-only sc in the background, the curl loop on localhost:PORT/readiness', async () => {
  const sc = sh(`${SC} run`, {
    SAUCE_USERNAME: server.admin.username,
    SAUCE_ACCESS_KEY: server.admin.accessKey,
    SAUCE_REGION: 'us-west',
    SAUCE_TUNNEL_NAME: 'compat-ci',
    SAUCE_PROXY_LOCALHOST: 'allow',
    SAUCE_REST_URL: server.restUrl,
    SAUCE_CACERT_FILE: server.caCert,
    SAUCE_API_ADDRESS: ':0',
    SAUCE_TUNNEL_CONNECTIONS: '2',
  });
  const port = await waitFor(
    'the API address',
    () => apiPort(sc.output()),
    20_000,
    () => sc.output(),
  );
  // The pipeline's Bash step, verbatim but for the port (and a timeout so a bug cannot hang the test).
  const loop = sh(
    `timeout 60 bash -c 'until [ "$(curl -s -o /dev/null -w ''%{http_code}'' localhost:${port}/readiness)" == "200" ]
do
  sleep 2
done
echo "SC ready"'`,
    {},
  );
  const done = await within(loop.exited, 70_000, 'the readiness loop', () => loop.output() + sc.output());
  assert.equal(done.code, 0, loop.output());
  assert.match(loop.output(), /^SC ready$/m);
  assert.match(sc.output(), /you may start your tests/);
  const info = await apiGet(`http://127.0.0.1:${port}`, '/info');
  assert.equal((JSON.parse(info.body) as { tunnel_name: string }).tunnel_name, 'compat-ci');

  // A Prometheus scrape of the live sc after real traffic, checked by promtool when it is installed.
  const auth = { username: server.admin.username, accessKey: server.admin.accessKey, tunnel: 'compat-ci' };
  assert.equal((await proxyRequest(server, auth, { url: `${app.url}/metrics-probe` })).status, 200);
  const m = join(await tempDir('sc-compat-'), 'metrics.txt');
  const scrape = sh(`curl -s localhost:${port}/metrics > ${m}; cat ${m}; promtool check metrics < ${m}`, {});
  await within(scrape.exited, 20_000, 'the metrics scrape', scrape.output);
  assert.match(scrape.output(), /^sauce_connect_http_requests_total\{code="200",method="GET"\} 1$/m);
  assert.match(scrape.output(), /^sauce_connect_tunnel_info\{.*name="compat-ci"\} 1$/m);
  if (!/promtool: (command )?not found/.test(scrape.output()))
    assert.equal((await scrape.exited).code, 0, `promtool check metrics:\n${scrape.output().slice(-2000)}`);
  sc.kill('SIGTERM');
  assert.equal((await within(sc.exited, 20_000, 'sc to stop', sc.output)).code, 0);
});

test('node-saucelabs: --flag=value style, /readyz every second, SIGINT then SIGKILL after 10 s', async () => {
  const user = server.admin.username;
  const key = server.admin.accessKey;
  const args = [
    'run',
    `--username=${user}`,
    `--access-key=${key}`,
    '--region=us-west-1',
    '--tunnel-name=compat-nsl',
    '--metadata=runner=node-saucelabs',
    '--api-address=:0',
  ].map((a) => `'${a}'`);
  // The server address and CA are this product's additions: users put them in the environment.
  const sc = sh(`${SC} ${args.join(' ')}`, {
    SAUCE_REST_URL: server.restUrl,
    SAUCE_CACERT_FILE: server.caCert,
    SAUCE_TUNNEL_CONNECTIONS: '2',
  });
  const port = await waitFor(
    'the API address',
    () => apiPort(sc.output()),
    20_000,
    () => sc.output(),
  );
  let ready = false;
  for (let i = 0; i < 30 && !ready; i++) {
    ready = (await apiGet(`http://127.0.0.1:${port}`, '/readyz')).status === 200;
    if (!ready) await sleep(1000);
  }
  assert.ok(ready, `/readyz never 200\n${sc.output()}`);
  const tunnels = await listTunnelsFull(server, { username: user, accessKey: key });
  const mine = tunnels.find((t) => t['tunnel_identifier'] === 'compat-nsl');
  assert.ok(mine, `tunnel on the server: ${JSON.stringify(tunnels)}`);
  assert.match(JSON.stringify(mine), /node-saucelabs/, 'metadata runner recorded');
  assert.match(JSON.stringify(mine), /us-west-1/, 'region recorded');

  sc.kill('SIGINT');
  const killer = setTimeout(() => sc.kill('SIGKILL'), 10_000);
  const exit = await sc.exited;
  clearTimeout(killer);
  assert.deepEqual(exit, { code: 0, signal: null }, `stopped by SIGINT within 10 s\n${sc.output()}`);
  assert.ok(!(await listTunnels(server, { username: user, accessKey: key })).includes(mine['id'] as string));
});

test('quick start: credentials in env only, sc run --tunnel-name "$SAUCE_TUNNEL_NAME" --region us-west', async () => {
  const sc = sh(`${SC} run --tunnel-name "$SAUCE_TUNNEL_NAME" --region us-west`, {
    SAUCE_USERNAME: server.admin.username,
    SAUCE_ACCESS_KEY: server.admin.accessKey,
    SAUCE_TUNNEL_NAME: 'compat-quick',
    SAUCE_REST_URL: server.restUrl,
    SAUCE_CACERT_FILE: server.caCert,
    SAUCE_TUNNEL_CONNECTIONS: '1',
  });
  await waitFor(
    'the ready line',
    () => /^(?!.*please wait).*you may start your tests/m.test(sc.output()),
    20_000,
    sc.output,
  );
  assert.doesNotMatch(sc.output(), /API server listening/, 'the local API is off by default');
  assert.doesNotMatch(sc.output(), /access key was given on the command line/);
  assert.ok(!sc.output().includes(server.admin.accessKey));
  // SC5's default --proxy-localhost deny: the browser side gets a clear 403 for a loopback target.
  const auth = { username: server.admin.username, accessKey: server.admin.accessKey, tunnel: 'compat-quick' };
  const res = await proxyRequest(server, auth, { url: `${app.url}/` });
  assert.equal(res.status, 403, res.body.toString());
  assert.ok(res.headers['x-sluice-error'], 'X-Sluice-Error names the reason');
  sc.kill('SIGINT');
  assert.equal((await within(sc.exited, 20_000, 'sc to stop', sc.output)).code, 0);
});
