/**
 * sc's dials to targets end to end (docs/errors.md): a refused connect is retried --http-dial-attempts times,
 * --http-dial-backoff apart, so a target that comes up meanwhile is reached; when every try fails the browser
 * gets 502 dial_refused; a target that never answers the SYN gives 504 dial_timeout after --http-dial-timeout.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, test } from 'node:test';
import {
  cleanup,
  closedPort,
  connectStatus,
  onCleanup,
  proxyGet,
  startClient,
  startServer,
  startSilentPort,
} from '../../kit/index.js';

after(cleanup);

const retryLine = (port: number): RegExp => new RegExp(`dial failed, retrying.*127\\.0\\.0\\.1:${port}`, 'g');

test('a refused dial is retried: the target that starts listening after the first try is reached', async () => {
  const server = await startServer();
  const sc = await startClient(server, {
    tunnelName: 'retries',
    args: ['--log-level', 'debug', '--http-dial-attempts', '10', '--http-dial-backoff', '500ms'],
  });
  const port = await closedPort();
  const pending = proxyGet(server, { ...server.admin, tunnel: 'retries' }, `http://127.0.0.1:${port}/late`);
  // The first try was refused (sc logs the retry); only now does the app start on that port.
  await sc.waitForLog(retryLine(port));
  const app = http.createServer((_req, res) => res.end('late app'));
  await new Promise<void>((r) => app.listen(port, '127.0.0.1', r));
  onCleanup(() => new Promise<void>((r) => app.close(() => r())));
  const res = await pending;
  assert.equal(res.status, 200, res.body);
  assert.equal(res.body, 'late app');
});

test('every try refused: 502 dial_refused after exactly --http-dial-attempts tries', async () => {
  const server = await startServer();
  const sc = await startClient(server, {
    tunnelName: 'refused',
    args: ['--log-level', 'debug', '--http-dial-attempts', '3', '--http-dial-backoff', '100ms'],
  });
  const port = await closedPort();
  const res = await proxyGet(server, { ...server.admin, tunnel: 'refused' }, `http://127.0.0.1:${port}/`);
  assert.equal(res.status, 502, res.body);
  assert.equal(res.error, 'dial_refused');
  // Three tries: two retries logged, none after the last.
  assert.equal(sc.logs().match(retryLine(port))?.length, 2, sc.logs());

  const once = await startClient(server, {
    tunnelName: 'no-retry',
    args: ['--log-level', 'debug', '--http-dial-attempts', '1'],
  });
  const r1 = await proxyGet(server, { ...server.admin, tunnel: 'no-retry' }, `http://127.0.0.1:${port}/`);
  assert.equal(r1.error, 'dial_refused');
  assert.equal(once.logs().match(retryLine(port)), null, '--http-dial-attempts 1 never retries');
});

test('a target that never answers the SYN: 504 dial_timeout, for requests and CONNECT', async () => {
  const server = await startServer();
  await startClient(server, {
    tunnelName: 'silent',
    // The CONNECT's own dial error (a resigned CONNECT is answered 200 before the target is dialled).
    args: ['--http-dial-timeout', '1s', '--http-dial-attempts', '1', '--tls-passthrough-domains', '.*'],
  });
  const silent = await startSilentPort();
  const res = await proxyGet(server, { ...server.admin, tunnel: 'silent' }, `${silent.url}/`);
  assert.equal(res.status, 504, res.body);
  assert.equal(res.error, 'dial_timeout');
  const c = await connectStatus(server, silent.host, { ...server.admin, tunnel: 'silent' });
  assert.equal(c.status, 504, c.body);
  assert.equal(c.headers['x-sluice-error'], 'dial_timeout');
});
