/**
 * The WebDriver gateway on a real sc-server without a browser: its flags, server.json, the endpoint forms, and
 * the errors that need no browser (no upstream configured, an upstream that is down). The browser side is in
 * test/browser/gateway.test.ts.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, describe, it } from 'node:test';
import {
  cleanup,
  closedPort,
  rest,
  SERVER_MAIN,
  startClient,
  startServer,
  tempDir,
  type TestServer,
} from '../../kit/index.js';

after(cleanup);

interface W3c {
  value: { error?: string; message?: string; ready?: boolean };
}

const sessionBody = (sauce: Record<string, unknown>): unknown => ({
  capabilities: { alwaysMatch: { browserName: 'chrome', 'sauce:options': sauce } },
});

function startWith(args: string[]): { status: number | null; stderr: string } {
  const r = spawnSync(process.execPath, [SERVER_MAIN, 'start', ...args], {
    encoding: 'utf8',
    timeout: 20_000,
    env: { ...process.env, SC_WEBDRIVER_UPSTREAM: '' },
  });
  return { status: r.status, stderr: r.stderr };
}

describe('sc-server start: gateway flags', () => {
  it('refuses bad values with exit 2 and a message naming the flag', async () => {
    const dir = await tempDir('sluice-gw-flags-');
    for (const [args, re] of [
      [
        ['--webdriver-upstream', 'ftp://grid/wd/hub'],
        /invalid value "ftp:\/\/grid\/wd\/hub" for --webdriver-upstream.*http:\/\/ or https:\/\//,
      ],
      [
        ['--webdriver-upstream', 'not a url'],
        /invalid value "not a url" for --webdriver-upstream.*expected a URL/,
      ],
      [
        ['--webdriver-proxy-ports', '9000-8000'],
        /invalid value "9000-8000" for --webdriver-proxy-ports.*FROM-TO/,
      ],
      [['--webdriver-proxy-ports', 'many'], /invalid value "many" for --webdriver-proxy-ports.*port count/],
      [['--webdriver-trust-spki', 'abc'], /invalid value "abc" for --webdriver-trust-spki.*base64 SHA-256/],
      [['--webdriver-idle-timeout', 'soon'], /invalid value "soon" for --webdriver-idle-timeout.*duration/],
      [['--webdriver-new-session-timeout', '1ms'], /must be at least 100ms/],
    ] as const) {
      const r = startWith(['--data-dir', dir, ...args]);
      assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, re);
      assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
    }
  });

  it('never prints credentials of an upstream URL', async () => {
    const dir = await tempDir('sluice-gw-flags-');
    const r = startWith(['--data-dir', dir, '--webdriver-upstream', 'https://u:s3cret@grid host/wd/hub']);
    assert.equal(r.status, 2);
    assert.doesNotMatch(r.stderr, /s3cret/);
  });
});

describe('gateway without a browser', () => {
  const call = (server: TestServer, path: string, body?: unknown, auth = true) =>
    rest<W3c>(
      server,
      'POST',
      server.info.webdriver_url.replace(/\/wd\/hub$/, '') + path,
      auth ? server.admin : null,
      body,
    );

  it('no --webdriver-upstream: server.json has webdriver_url; sessions are refused in W3C form', async () => {
    const server = await startServer();
    assert.match(server.info.webdriver_url, /^https:\/\/127\.0\.0\.1:\d+\/wd\/hub$/);
    const status = await rest<W3c>(server, 'GET', server.info.webdriver_url + '/status', null);
    assert.equal(status.status, 200);
    assert.equal(status.json.value.ready, false);
    for (const path of ['/wd/hub/session', '/session']) {
      const r = await call(server, path, sessionBody({}));
      assert.equal(r.status, 500, r.text);
      assert.equal(r.json.value.error, 'session not created');
      assert.match(r.json.value.message!, /start it with --webdriver-upstream/);
    }
    const wrongMethod = await rest<W3c>(server, 'GET', server.info.webdriver_url + '/session', null);
    assert.equal(wrongMethod.json.value.error, 'unknown method');
    const unknown = await rest<W3c>(server, 'GET', server.info.webdriver_url + '/session/abc/url', null);
    assert.equal(unknown.status, 404);
    assert.equal(unknown.json.value.error, 'invalid session id');
  });

  it('an upstream that is down: session not created at once, the tunnel has no job and no binding', async () => {
    const dead = await closedPort();
    const server = await startServer({
      args: ['--webdriver-upstream', `http://127.0.0.1:${dead}`, '--webdriver-proxy-ports', '2'],
    });
    const client = await startClient(server, { tunnelName: 'gw-down' });
    void client;
    const r = await call(server, '/wd/hub/session', sessionBody({ tunnelName: 'gw-down' }));
    assert.equal(r.status, 500, r.text);
    assert.equal(r.json.value.error, 'session not created');
    assert.match(
      r.json.value.message!,
      new RegExp(`upstream http://127\\.0\\.0\\.1:${dead} is unreachable: ECONNREFUSED`),
    );
    const ids = (await rest<string[]>(server, 'GET', `/${server.admin.username}/tunnels`, server.admin)).json;
    const jobs = await rest<{ jobs_running: number }>(
      server,
      'GET',
      `/${server.admin.username}/tunnels/${ids[0]}/num_jobs`,
      server.admin,
    );
    assert.deepEqual(jobs.json, { id: ids[0], jobs_running: 0 });
    // Both ports were free again: two more attempts each get the upstream's error, not "all ports in use".
    for (let i = 0; i < 3; i++) {
      const again = await call(server, '/session', sessionBody({ tunnelName: 'gw-down' }));
      assert.match(again.json.value.message!, /unreachable/);
    }
  });
});
