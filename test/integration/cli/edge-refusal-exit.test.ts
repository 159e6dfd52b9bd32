/**
 * sc exits on the edge's handshake refusals instead of redialling (docs/errors.md "Tunnel handshake errors"):
 * 401 bad_token exits 5 (refused). The token of a running sc stops being valid when the operator rotates the
 * server secret and discards the previous ones (docs/server.md "Rotating the CA and the server secret": tokens
 * verify under the secrets kept in server-secret.previous); the restarted server then refuses sc's redial with
 * 401. (410 tunnel_terminated, exit 0, is covered in faults/network.test.ts.)
 */
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { ExitCode } from '../../../src/client/exit-codes.js';
import { cleanup, NodeProcess, SERVER_MAIN, startClient, startServer } from '../../kit/index.js';

after(cleanup);

test('401 bad_token on redial: sc stops redialling, says why and exits 5', async () => {
  const server = await startServer();
  const sc = await startClient(server, { tunnelName: 'revoked' });
  const stopped = await server.process.stop('SIGTERM');
  assert.equal(stopped.code, 0, server.logs());

  const admin = new NodeProcess(
    'sc-server admin rotate-secret',
    SERVER_MAIN,
    ['admin', 'rotate-secret', '--data-dir', server.dataDir],
    { ...process.env },
  );
  assert.equal((await admin.waitExit()).code, 0, admin.describe());
  await rm(join(server.dataDir, 'server-secret.previous'));

  const again = await server.restart();
  const exit = await sc.waitExit(30_000);
  assert.equal(exit.code, ExitCode.REFUSED, sc.logs());
  assert.match(sc.logs(), /tunnel refused by the server.*bad_token/);
  assert.match(again.logs(), /tunnel connection refused: bad token/);
});
