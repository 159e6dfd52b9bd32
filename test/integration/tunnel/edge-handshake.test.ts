/**
 * The tunnel edge's handshake errors (docs/errors.md, "Tunnel handshake errors"): a JSON 4xx before any HTTP/2
 * byte: 400 bad_handshake for anything but the tunnel upgrade, 401 bad_token for a missing, malformed or wrong
 * token, 410 tunnel_terminated for the right token of a stopped tunnel.
 */
import assert from 'node:assert/strict';
import https from 'node:https';
import { after, before, test } from 'node:test';
import { cleanup, rest, startServer, type TestServer } from '../../kit/index.js';

let server: TestServer;
before(async () => {
  server = await startServer();
});
after(cleanup);

/** One request to the edge over TLS (trusting the server CA); the refusal's status and JSON body. */
function edge(
  path: string,
  headers: Record<string, string>,
): Promise<{ status: number; json: { error?: string; code?: string } }> {
  const [host, port] = [
    server.edgeAddress.slice(0, server.edgeAddress.lastIndexOf(':')),
    server.edgeAddress.split(':').pop(),
  ];
  return new Promise((resolve, reject) => {
    const req = https.request({
      host,
      port: Number(port),
      path,
      headers,
      ca: server.caPem,
      agent: false,
      servername: 'localhost',
    });
    req.on('upgrade', (_res, socket) => {
      socket.destroy();
      reject(new Error('the edge accepted the handshake'));
    });
    req.on('response', (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, json: JSON.parse(text) as { code?: string } }),
      );
    });
    req.on('error', reject);
    req.end();
  });
}

const UPGRADE = { connection: 'Upgrade', upgrade: 'sluice-tunnel/1' };

test('an upgrade to the wrong path or protocol is 400 bad_handshake; a plain request 426', async () => {
  const wrongPath = await edge('/', UPGRADE);
  assert.deepEqual([wrongPath.status, wrongPath.json.code], [400, 'bad_handshake']);
  const wrongProtocol = await edge('/tunnel/v1/connect', { connection: 'Upgrade', upgrade: 'websocket' });
  assert.deepEqual([wrongProtocol.status, wrongProtocol.json.code], [400, 'bad_handshake']);
  // Not an upgrade at all: the edge says what it is (426 upgrade_required; not listed in docs/errors.md).
  const plain = await edge('/tunnel/v1/connect', {});
  assert.deepEqual([plain.status, plain.json.code], [426, 'upgrade_required']);
});

test('a missing, malformed or wrong token is 401 bad_token', async () => {
  for (const authorization of [undefined, 'Bearer nonsense', `Bearer ${'a'.repeat(32)}.wrong-token`]) {
    const r = await edge('/tunnel/v1/connect', { ...UPGRADE, ...(authorization ? { authorization } : {}) });
    assert.equal(r.status, 401, String(authorization));
    assert.equal(r.json.code, 'bad_token');
  }
});

test("a stopped tunnel's own token is 410 tunnel_terminated", async () => {
  const admin = server.admin;
  const made = await rest<{ id: string; connection_token: string }>(
    server,
    'POST',
    `/${admin.username}/tunnels`,
    admin,
    {
      tunnel_identifier: 'gone',
    },
  );
  assert.equal(made.status, 200, made.text);
  assert.equal(
    (await rest(server, 'DELETE', `/${admin.username}/tunnels/${made.json.id}`, admin)).status,
    200,
  );
  const r = await edge('/tunnel/v1/connect', {
    ...UPGRADE,
    authorization: `Bearer ${made.json.id}.${made.json.connection_token}`,
  });
  assert.equal(r.status, 410);
  assert.equal(r.json.code, 'tunnel_terminated');
  assert.doesNotMatch(server.logs(), new RegExp(made.json.connection_token), 'the token is not logged');
});
