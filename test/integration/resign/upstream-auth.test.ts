/**
 * --auth is also used for upstream proxies (issue 11 point 7): a --proxy without userinfo takes the --auth entry
 * for its host:port, in SC5's order (exact host:port before *:port, host:* and *:*), here with tinyproxy's
 * BasicAuth; resigned HTTPS goes through the same upstream proxy (sc's TLS to the site inside its CONNECT).
 */
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, test } from 'node:test';
import {
  cleanup,
  proxyGet,
  startClient,
  startHttpApp,
  startServer,
  startTlsApp,
  tempDir,
  testCa,
  tlsThroughConnect,
  type TestServer,
} from '../../kit/index.js';
import { startTinyproxy } from '../../kit/proxies.js';

after(cleanup);

const auth = (server: TestServer, tunnel: string) => ({
  username: server.admin.username,
  accessKey: server.admin.accessKey,
  tunnel,
});

test('--auth gives an upstream proxy its credentials (exact host:port wins over *:*); resigned HTTPS goes through it', async () => {
  const [server, app, tlsApp, tiny] = await Promise.all([
    startServer(),
    startHttpApp(),
    startTlsApp(),
    startTinyproxy({ user: 'pxuser', pass: 'pxpass' }),
  ]);
  const caFile = join(await tempDir(), 'target-ca.pem');
  await writeFile(caFile, (await testCa()).caPem);
  await startClient(server, {
    tunnelName: 'auth-proxy',
    args: [
      '--proxy',
      `127.0.0.1:${tiny.port}`,
      '--auth',
      `wrong:nope@*:*,pxuser:pxpass@127.0.0.1:${tiny.port}`,
      '--cacert-file',
      caFile,
    ],
  });
  const ok = await proxyGet(server, auth(server, 'auth-proxy'), `${app.url}/plain`);
  assert.equal(ok.status, 200, ok.body);
  assert.match(await tiny.log(), new RegExp(`CONNECT 127\\.0\\.0\\.1:${app.port}`));

  const info = server.info as unknown as { resign_ca_cert: string };
  const s = await tlsThroughConnect(
    server,
    auth(server, 'auth-proxy'),
    `localhost:${tlsApp.port}`,
    await readFile(info.resign_ca_cert, 'utf8'),
  );
  const r = await s.request('/inside');
  assert.equal(r.status, 200, r.body);
  assert.match(await tiny.log(), new RegExp(`CONNECT localhost:${tlsApp.port}`));
  // The site saw the *:* entry as its Authorization (no exact entry for it), the proxy the exact one.
  const seen = tlsApp.requests.at(-1)!;
  assert.equal(seen.url, '/inside');
  assert.equal(seen.headers['authorization'], `Basic ${Buffer.from('wrong:nope').toString('base64')}`);
  s.close();

  // Without a matching --auth entry the proxy answers 407: 502 upstream_proxy_auth.
  await startClient(server, {
    tunnelName: 'auth-none',
    args: ['--proxy', `127.0.0.1:${tiny.port}`, '--auth', `pxuser:pxpass@127.0.0.1:1`],
  });
  const denied = await proxyGet(server, auth(server, 'auth-none'), `${app.url}/`);
  assert.equal(denied.status, 502);
  assert.equal(denied.error, 'upstream_proxy_auth');
});
