/**
 * Short resigned CONNECT sessions (docs/decisions/0016-tls-resigning.md): each CONNECT carries one request with
 * `Connection: close`, then the browser's socket closes, as the soak's `connect` workload does. Many in a row and
 * many at once must all be answered in full: once sc kept the TLS connections to the target alive between them,
 * about half of such sessions never got an answer.
 */
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import http from 'node:http';
import { join } from 'node:path';
import { after, test } from 'node:test';
import tls from 'node:tls';
import {
  cleanup,
  connectThroughProxy,
  deterministicBytes,
  startClient,
  startServer,
  startTlsApp,
  tempDir,
  testCa,
  type TestServer,
} from '../../kit/index.js';

after(cleanup);

const SIZE = 16384;

/** CONNECT, TLS trusting the resigning CA, one GET /bytes with `connection: close`; the body, or the failure. */
async function oneShot(
  server: TestServer,
  tunnel: string,
  host: string,
  ca: string,
  seed: number,
): Promise<Buffer> {
  const raw = await connectThroughProxy(server, host, {
    username: server.admin.username,
    accessKey: server.admin.accessKey,
    tunnel,
  });
  return new Promise<Buffer>((resolve, reject) => {
    const req = http.request(
      {
        path: `/bytes/${SIZE}?seed=${seed}`,
        headers: { host, connection: 'close' },
        createConnection: () => tls.connect({ socket: raw, servername: 'localhost', ca }),
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          if (res.statusCode !== 200) reject(new Error(`session ${seed}: status ${res.statusCode}`));
          else resolve(Buffer.concat(chunks));
        });
        res.on('error', reject);
      },
    );
    // Every wait has a timeout (test/kit/README.md): a stalled session fails here instead of hanging the test.
    req.setTimeout(15_000, () => req.destroy(new Error(`session ${seed}: no answer in 15 s`)));
    req.on('error', reject);
    req.end();
  });
}

test('short resigned CONNECT sessions with Connection: close, sequential and concurrent, are all answered', async () => {
  const app = await startTlsApp();
  const server = await startServer();
  const caFile = join(await tempDir(), 'target-ca.pem');
  await writeFile(caFile, (await testCa()).caPem);
  await startClient(server, { tunnelName: 'short', args: ['--cacert-file', caFile] });
  const info = server.info as unknown as { resign_ca_cert: string };
  const ca = await readFile(info.resign_ca_cert, 'utf8');
  const host = `localhost:${app.port}`;
  const check = (body: Buffer, seed: number): void =>
    assert.ok(body.equals(deterministicBytes(SIZE, seed)), `session ${seed}: the body arrived intact`);

  for (let seed = 0; seed < 40; seed++) check(await oneShot(server, 'short', host, ca, seed), seed);

  for (let round = 0; round < 4; round++) {
    const seeds = Array.from({ length: 16 }, (_, i) => 1000 + round * 16 + i);
    const results = await Promise.allSettled(seeds.map((s) => oneShot(server, 'short', host, ca, s)));
    const failed = results.flatMap((r) => (r.status === 'rejected' ? [String(r.reason)] : []));
    assert.deepEqual(failed, [], `round ${round}: every concurrent session answered`);
    results.forEach((r, i) => r.status === 'fulfilled' && check(r.value, seeds[i]!));
  }
});
