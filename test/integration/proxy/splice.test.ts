/**
 * Splicing (docs/decisions/0006-splice.md): a browser's keep-alive connection of plain http:// requests to its
 * own tunnel rides one tunnel stream and sc parses it. The server counts the connection once; sc counts every
 * request. Changed credentials end the connection; other accounts' use of a shared tunnel is never spliced (their
 * credentials must not reach the owner's sc); `--proxy-splice false` turns it off.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { afterEach, test, type TestContext } from 'node:test';
import {
  cleanup,
  rest,
  startClient,
  startOrigin,
  startServer,
  type TestServer,
  waitFor,
} from '../../kit/index.js';

afterEach(cleanup);

interface Creds {
  username: string;
  accessKey: string;
  tunnel: string;
  owner?: string;
}

function authHeader(c: Creds): string {
  const user = `${c.username};tunnel=${c.tunnel}${c.owner ? `;owner=${c.owner}` : ''}`;
  return 'Basic ' + Buffer.from(`${user}:${c.accessKey}`).toString('base64');
}

/** The proxy entry's host and port. */
function proxyAt(server: TestServer): { host: string; port: number } {
  const i = server.info.proxy_address.lastIndexOf(':');
  return {
    host: server.info.proxy_address.slice(0, i),
    port: Number(server.info.proxy_address.slice(i + 1)),
  };
}

/** A raw connection to the proxy entry. */
function dialProxy(server: TestServer): net.Socket {
  const { host, port } = proxyAt(server);
  return net.connect(port, host);
}

/** One GET on `agent` (a keep-alive agent with one socket); rejects when the connection drops unanswered. */
function get(
  server: TestServer,
  agent: http.Agent,
  c: Creds,
  url: string,
): Promise<{ status: number; body: string; reused: boolean }> {
  const { host, port } = proxyAt(server);
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host,
        port,
        path: url,
        agent,
        headers: { 'proxy-authorization': authHeader(c) },
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body, reused: req.reusedSocket }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

function counted(text: string, metric: string, labels: string): number {
  const m = new RegExp(`^${metric}\\{${labels}\\} (\\d+)`, 'm').exec(text);
  return m ? Number(m[1]) : 0;
}

async function serverGets(server: TestServer): Promise<number> {
  const r = await rest(server, 'GET', '/../../metrics', null);
  return counted(r.text, 'sluice_server_proxy_requests_total', 'code="200",method="GET"');
}

/** A server, an origin answering `body`, `sc` for ADMIN's tunnel `name`, and a one-socket keep-alive agent. */
async function ownTunnel(t: TestContext, name: string, body: string, serverArgs: string[] = []) {
  const origin = await startOrigin(body);
  const server = await startServer({ args: ['--rest-metrics', ...serverArgs] });
  const ADMIN = server.admin;
  const sc = await startClient(server, { tunnelName: name });
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  t.after(() => agent.destroy());
  return {
    origin,
    server,
    sc,
    agent,
    creds: { username: ADMIN.username, accessKey: ADMIN.accessKey, tunnel: name },
  };
}

test('a keep-alive connection to your own tunnel rides one stream: sc counts each request, the server one', async (t) => {
  const { origin, server, sc, agent, creds } = await ownTunnel(t, 'own', 'spliced');
  const replies = [];
  for (let i = 0; i < 3; i++) replies.push(await get(server, agent, creds, `${origin.url}n/${i}`));
  assert.deepEqual(
    replies.map((r) => [r.status, r.body, r.reused]),
    [
      [200, 'spliced', false],
      [200, 'spliced', true],
      [200, 'spliced', true],
    ],
  );
  assert.equal(origin.requests.length, 3);
  assert.equal(await sc.served(), 3, 'sc counts every request');
  assert.equal(await serverGets(server), 1, 'the server counts the spliced connection once');

  // The same connection with other credentials (here a wrong key): closed unanswered, so the client retries on
  // a fresh connection, where the server checks them and answers 407.
  await assert.rejects(
    get(server, agent, { ...creds, accessKey: 'wrong-key-0000000000' }, origin.url),
    /hang up|ECONNRESET/,
  );
  assert.equal(origin.requests.length, 3, 'nothing reached the app with the changed credentials');
  const fresh = await get(server, agent, { ...creds, accessKey: 'wrong-key-0000000000' }, origin.url);
  assert.equal(fresh.reused, false);
  assert.equal(fresh.status, 407);
});

test("another account's use of a shared tunnel goes request by request, never spliced", async (t) => {
  const origin = await startOrigin('shared');
  const server = await startServer({ args: ['--rest-metrics'] });
  const ADMIN = server.admin;
  assert.equal((await rest(server, 'POST', '/admin/teams', ADMIN, { name: 'A' })).status, 201);
  const made = await rest(server, 'POST', '/admin/users', ADMIN, {
    username: 'ta',
    role: 'team_admin',
    teams: ['A'],
  });
  assert.equal(made.status, 201, made.text);
  const ta = { username: 'ta', accessKey: (made.json as { access_key: string }).access_key };
  const sc = await startClient(server, {
    username: ADMIN.username,
    accessKey: ADMIN.accessKey,
    tunnelName: 'team',
    args: ['--shared', 'all'],
  });
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  t.after(() => agent.destroy());
  const creds = { ...ta, tunnel: 'team', owner: ADMIN.username };
  const a = await get(server, agent, creds, origin.url);
  const b = await get(server, agent, creds, origin.url);
  assert.deepEqual([a.status, b.status, b.reused], [200, 200, true]);
  assert.equal(await serverGets(server), 2, 'the server saw (and stripped the credentials of) each request');
  assert.equal(await sc.served(), 2);
});

test('--proxy-splice false: every request on its own stream', async (t) => {
  const { origin, server, agent, creds } = await ownTunnel(t, 'off', 'per-request', [
    '--proxy-splice',
    'false',
  ]);
  for (let i = 0; i < 3; i++) assert.equal((await get(server, agent, creds, origin.url)).status, 200);
  assert.equal(await serverGets(server), 3);
});

test('SIGTERM on sc closes its idle spliced connections after a short grace and exits 0', async (t) => {
  const { origin, server, sc, agent, creds } = await ownTunnel(t, 'idle', 'idle');
  assert.equal((await get(server, agent, creds, origin.url)).status, 200);
  const socket = Object.values(agent.freeSockets).flat()[0];
  assert.ok(socket, 'the connection is kept alive and idle');
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  // stop() falls back to SIGKILL after 10 s, well before sc's 20 s idle timeout would close the connection.
  const { code } = await sc.stop('SIGTERM');
  assert.equal(code, 0, sc.logs());
  await closed;
  assert.match(sc.logs(), /tunnel deleted/);
});

/** Writes `first`, waits for its whole answer, then writes `second` and collects what comes back until close. */
async function twoOnOneConnection(
  server: TestServer,
  first: string,
  second: string,
  until: (out: string) => boolean = () => false,
): Promise<string> {
  const socket = dialProxy(server);
  let out = '';
  socket.setEncoding('latin1');
  socket.on('data', (d: string) => (out += d));
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  socket.write(first);
  const deadline = Date.now() + 10_000;
  while (!/\r\n\r\nspliced$/.test(out) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  assert.match(out, /^HTTP\/1\.1 200 /, 'the first request is answered');
  socket.write(second);
  const stop = Date.now() + 10_000;
  let isClosed = false;
  void closed.then(() => (isClosed = true));
  while (!isClosed && !until(out) && Date.now() < stop) await new Promise((r) => setTimeout(r, 20));
  socket.destroy();
  return out;
}

test('bad later requests on a spliced connection get 400 or 431 from sc (smuggling refused); pipelining works', async () => {
  const origin = await startOrigin('spliced');
  const server = await startServer();
  const ADMIN = server.admin;
  await startClient(server, { username: ADMIN.username, accessKey: ADMIN.accessKey, tunnelName: 'bad' });
  const auth = authHeader({ username: ADMIN.username, accessKey: ADMIN.accessKey, tunnel: 'bad' });
  const ok = `GET ${origin.url} HTTP/1.1\r\nHost: x\r\nProxy-Authorization: ${auth}\r\n\r\n`;

  const malformed = await twoOnOneConnection(
    server,
    ok,
    `GET ${origin.url} HTTP/1.1\r\nno colon here\r\n\r\n`,
  );
  assert.match(malformed, /spliced(HTTP\/1\.1 400 [^]*x-sluice-error: bad_request)/i);

  const big = `GET ${origin.url} HTTP/1.1\r\nProxy-Authorization: ${auth}\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`;
  const tooLarge = await twoOnOneConnection(server, ok, big);
  assert.match(tooLarge, /spliced(HTTP\/1\.1 431 [^]*x-sluice-error: header_too_large)/i);
  const smuggle =
    `POST ${origin.url} HTTP/1.1\r\nProxy-Authorization: ${auth}\r\nContent-Length: 4\r\n` +
    `Transfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET ${origin.url}smuggled HTTP/1.1\r\n\r\n`;
  const refused = await twoOnOneConnection(server, ok, smuggle);
  assert.match(refused, /spliced(HTTP\/1\.1 400 [^]*x-sluice-error: bad_request)/i);
  assert.equal(origin.requests.length, 3, 'only the three good requests reached the app');

  // Two requests in one write (pipelining): both answered, in order, on the same connection.
  const both = await twoOnOneConnection(
    server,
    ok,
    ok + ok.replace(' HTTP/1.1', 'again HTTP/1.1'),
    (out) => (out.match(/\r\n\r\nspliced/g) ?? []).length === 3,
  );
  assert.equal(both.match(/HTTP\/1\.1 200 /g)?.length, 3, both);
  assert.equal(origin.requests.length, 6);
});

test('--http-response-header-timeout runs per request on a spliced connection', async (t) => {
  // /slow/MS answers after MS milliseconds.
  const app = http.createServer((req, res) => {
    const ms = Number(/^\/slow\/(\d+)$/.exec(req.url ?? '')?.[1] ?? 0);
    setTimeout(() => res.end(`after ${ms}`), ms);
  });
  await new Promise<void>((r) => app.listen(0, '127.0.0.1', r));
  t.after(() => {
    app.closeAllConnections();
    app.close();
  });
  const url = `http://127.0.0.1:${(app.address() as net.AddressInfo).port}`;
  const server = await startServer();
  const ADMIN = server.admin;
  const name = 'deadline';
  await startClient(server, {
    username: ADMIN.username,
    accessKey: ADMIN.accessKey,
    tunnelName: name,
    args: ['--http-response-header-timeout', '1s'],
  });
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  t.after(() => agent.destroy());
  const creds = { username: ADMIN.username, accessKey: ADMIN.accessKey, tunnel: name };

  assert.equal((await get(server, agent, creds, `${url}/slow/0`)).status, 200);
  // (A check that the deadline restarts with each request needs a clock race, sleep 700 ms then a 400 ms answer:
  // dropped, as tests make no timing assertions. The deadline applies to a later request on the same connection:)
  const third = await get(server, agent, creds, `${url}/slow/3000`);
  assert.deepEqual([third.status, third.reused], [504, true]);
  assert.match(third.body, /response_timeout|header/i);
});

/** Opens a raw connection to the proxy entry, writes `bytes` and half-closes; resolves with what came back. */
function halfClose(server: TestServer, bytes: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = dialProxy(server);
    let got = '';
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error(`the proxy kept the connection open (got ${JSON.stringify(got)})`));
    }, 10_000);
    s.on('data', (d: Buffer) => (got += d.toString('latin1')));
    s.on('error', reject);
    s.on('close', () => {
      clearTimeout(timer);
      resolve(got);
    });
    s.on('connect', () => s.end(bytes));
  });
}

test('a client that stops sending before a whole request head is answered and closed, not left half-open', async () => {
  const server = await startServer();
  // Resolving at all is the point: the proxy closes its side (before the fix it waited for more bytes forever).
  assert.equal(await halfClose(server, ''), '');
  const partial = await halfClose(server, 'GET http://127.0.0.1:1/ HTTP/1.1\r\nHost: 127.0.0.1:1\r\n');
  assert.match(partial, /^HTTP\/1\.1 400 /);
  assert.match(partial, /x-sluice-error: bad_request/i);
});

test('SIGTERM stops sc-server at once with a spliced connection and a CONNECT tunnel still open', async (t) => {
  const { origin, server, agent, creds } = await ownTunnel(t, 'open', 'open');
  const echo = net.createServer((s) => s.pipe(s));
  await new Promise<void>((r) => echo.listen(0, '127.0.0.1', r));
  t.after(() => echo.close());
  assert.equal((await get(server, agent, creds, origin.url)).status, 200); // an idle spliced connection stays
  const tunnel = dialProxy(server);
  t.after(() => tunnel.destroy());
  const target = `127.0.0.1:${(echo.address() as net.AddressInfo).port}`;
  tunnel.write(
    `CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\nProxy-Authorization: ${authHeader(creds)}\r\n\r\n`,
  );
  const established = await new Promise<string>((r) => tunnel.once('data', (d: Buffer) => r(d.toString())));
  assert.match(established, /^HTTP\/1\.1 200 /);
  const closed = new Promise<void>((r) => tunnel.once('close', () => r()));
  // stop() falls back to SIGKILL (exit code null) after 10 s: 0 means sc-server closed both and exited itself.
  assert.equal(await server.stop('SIGTERM'), 0);
  await closed;
});

test('a client that stops sending inside a request body gets 400 on a spliced connection; the target is let go', async (t) => {
  let aborted = false;
  const app = http.createServer((req, res) => {
    req.on('close', () => (aborted = !req.complete));
    req.resume();
    req.on('end', () => res.end('whole body'));
  });
  await new Promise<void>((r) => app.listen(0, '127.0.0.1', r));
  t.after(() => {
    app.closeAllConnections();
    app.close();
  });
  const target = `127.0.0.1:${(app.address() as net.AddressInfo).port}`;
  const server = await startServer();
  const ADMIN = server.admin;
  await startClient(server, { username: ADMIN.username, accessKey: ADMIN.accessKey, tunnelName: 'cut' });
  const creds = { username: ADMIN.username, accessKey: ADMIN.accessKey, tunnel: 'cut' };
  const got = await halfClose(
    server,
    `PUT http://${target}/ HTTP/1.1\r\nHost: ${target}\r\nProxy-Authorization: ${authHeader(creds)}\r\n` +
      'Content-Length: 10\r\n\r\nabc',
  );
  assert.match(got, /^HTTP\/1\.1 400 /);
  assert.match(got, /x-sluice-error: bad_request/i);
  await waitFor('the target to see its connection closed', () => aborted || undefined);
});
