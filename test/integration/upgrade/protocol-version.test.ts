/**
 * Mixed versions: the edge accepts tunnel protocol versions MIN_PROTOCOL_VERSION..PROTOCOL_VERSION, treats a
 * handshake without the header (an sc from before it) as version 1, and refuses any other with 426
 * unsupported_protocol; a real sc announcing another version (SLUICE_TEST_PROTOCOL_VERSION, a test-only
 * override) logs the refusal and exits 5 instead of redialling.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { cleanup, startClient, startServer, type TestServer } from '../../kit/index.js';
import { createTunnel, edgeExchange, handshakeHead, upgradeFields } from '../../fuzz/edge.js';
import { header } from '../../fuzz/wire.js';
import { PROTOCOL_VERSION } from '../../../src/protocol/tunnel-protocol.js';

after(cleanup);

let server: TestServer;
before(async () => {
  server = await startServer();
});

test('the edge accepts its versions and a handshake without one, and refuses others with 426', async () => {
  const t = await createTunnel(server, server.admin, 'versions');
  const version = (v: string | null): string[] =>
    v === null ? upgradeFields(t) : [...upgradeFields(t), `X-Sluice-Protocol-Version: ${v}`];
  for (const v of [null, '1', String(PROTOCOL_VERSION)]) {
    const a = await edgeExchange(server, [handshakeHead(version(v))]);
    assert.equal(a.status, 101, `version ${v}: ${a.head}`);
  }
  for (const v of ['0', String(PROTOCOL_VERSION + 1), '99999', 'abc', '1.0', '-1', '']) {
    const a = await edgeExchange(server, [handshakeHead(version(v))]);
    assert.equal(a.status, 426, `version ${JSON.stringify(v)}: ${a.head}`);
    assert.equal(header(String(a.status), a.head, 'content-type'), 'application/json');
  }
});

test('an sc speaking an unsupported version is told so and exits 5', async () => {
  const client = await startClient(server, {
    tunnelName: 'too-new',
    waitReady: false,
    env: { SLUICE_TEST_PROTOCOL_VERSION: String(PROTOCOL_VERSION + 1) },
  });
  const exit = await client.waitExit(30_000);
  assert.equal(exit.code, 5, client.logs());
  assert.match(client.logs(), /unsupported_protocol/);
  assert.match(client.logs(), /speaks versions 1 to 1/);
});
