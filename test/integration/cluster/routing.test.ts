/**
 * Issue 14, point 2: three sc-server nodes on one real PostgreSQL. sc creates its tunnel over REST on node B and
 * holds its one connection on node A (the first node the created tunnel names); a browser's requests enter node
 * C's proxy entry and reach the private app over the node link C -> A. Every body is checked.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  cleanup,
  connectThroughProxy,
  deterministicBytes,
  proxyGet,
  proxyRequest,
  rest,
  sha256,
  startClient,
  startCluster,
  startHttpApp,
  startPostgres,
  postgresMissing,
  waitFor,
  type TestCluster,
} from '../../kit/index.js';

const skip = postgresMissing();
let cluster: TestCluster;
let store = '';

before(async () => {
  if (skip) return;
  const pg = await startPostgres();
  store = await pg.newDatabase('cluster_routing');
  cluster = await startCluster(3, { store });
});
after(cleanup);

test('a request entering node C reaches the tunnel whose connection is on node A', { skip }, async () => {
  const [a, b, c] = [cluster.nodes[0]!, cluster.nodes[1]!, cluster.nodes[2]!];
  const app = await startHttpApp();
  const base = `http://${app.host}/`;
  // The CONNECT below carries plain HTTP (a raw pipe): no resigning.
  const client = await startClient(b, {
    tunnelName: 'cross',
    args: ['--tunnel-connections', '1', '--tls-passthrough-domains', '.*'],
  });
  // The created tunnel names the three nodes, A first: the one connection is on A (A's log says so).
  await waitFor(
    'the connection on node A',
    () => /tunnel connection established/.test(a.logs()) || undefined,
  );
  assert.doesNotMatch(c.logs(), /tunnel connection established/);
  const auth = { ...cluster.admin, tunnel: 'cross' };

  // Small requests, a large body down, a body up, and a CONNECT pipe: all through C's proxy entry.
  for (let i = 0; i < 5; i++) {
    const r = await proxyGet(c, auth, `${base}echo/${i}`);
    assert.equal(r.status, 200, r.body);
    assert.equal((JSON.parse(r.body) as { url: string }).url, `/echo/${i}`);
  }
  const big = await proxyRequest(c, auth, { url: `${base}bytes/${4 << 20}?seed=7` });
  assert.equal(big.status, 200);
  assert.equal(sha256(big.body), sha256(deterministicBytes(4 << 20, 7, 0)));
  const up = deterministicBytes(3 << 20, 9, 0);
  const posted = await proxyRequest(c, auth, { method: 'POST', url: `${base}sha256`, body: up });
  assert.equal(posted.status, 200);
  assert.equal((JSON.parse(posted.body.toString()) as { sha256: string }).sha256, sha256(up));
  const sock = await connectThroughProxy(c, app.host, auth);
  sock.write(`GET /connect-check HTTP/1.1\r\nHost: ${app.host}\r\nConnection: close\r\n\r\n`);
  const text = await new Promise<string>((resolve) => {
    let s = '';
    sock.on('data', (d: Buffer) => (s += d.toString('latin1')));
    sock.on('end', () => resolve(s));
  });
  sock.destroy();
  assert.match(text, /^HTTP\/1\.1 200/);
  assert.match(text, /\/connect-check/);

  // REST on every node sees the tunnel with its connection; the create answer named all three nodes.
  for (const node of [a, b, c]) {
    const list = await rest(node, 'GET', `/${cluster.admin.username}/tunnels?full=true`, cluster.admin);
    const t = (list.json as { tunnel_identifier: string; connections?: number }[]).find(
      (x) => x.tunnel_identifier === 'cross',
    );
    assert.ok(t, `node ${node.restUrl} lists the tunnel`);
  }
  assert.match(client.logs(), /server nodes.*127\.0\.0\.1:\d+,127\.0\.0\.1:\d+,127\.0\.0\.1:\d+/);
  await client.stop();
});

test('an unknown tunnel is still 403 tunnel_not_found in a cluster', { skip }, async () => {
  const c = cluster.nodes[2]!;
  const r = await proxyGet(c, { ...cluster.admin, tunnel: 'nope' }, 'http://127.0.0.1:1/');
  assert.equal(r.status, 403);
  assert.equal(r.error, 'tunnel_not_found');
});
