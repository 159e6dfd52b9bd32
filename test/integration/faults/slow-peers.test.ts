/**
 * Issue 13, point 1: slow readers and writers. A browser that stops reading a large body holds the transfer
 * through flow control (sc and sc-server do not buffer the body: their memory stays bounded) and gets every byte
 * intact when it reads on; a browser that uploads slowly gets its body through intact.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { afterEach, test } from 'node:test';
import {
  cleanup,
  deterministicBytes,
  proxyRequest,
  sha256,
  sleep,
  startClient,
  startHttpApp,
  startServer,
  streamingGet,
  waitFor,
} from '../../kit/index.js';

afterEach(cleanup);

const MiB = 1 << 20;
const rss = (pid: number): number =>
  Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]) * 1024;

test('a browser that stops reading a 512 MiB body: flow control holds, memory stays bounded, the body arrives intact', async () => {
  const app = await startHttpApp();
  const server = await startServer();
  const sc = await startClient(server, { tunnelName: 'slow-read', args: ['--tunnel-connections', '1'] });
  const size = 512 * MiB;
  const before = { server: rss(server.proc.pid!), sc: rss(sc.proc.pid!) };
  const dl = streamingGet(server, { ...server.admin, tunnel: 'slow-read' }, `${app.url}/bytes/${size}`);
  await dl.response;
  await waitFor('the first MiB', () => (dl.received > MiB ? true : undefined));
  dl.pause();
  // While the reader is paused, sample both processes' memory for a few seconds (the pipeline fills up to
  // what flow control allows); the highest sample counts.
  const held = { server: 0, sc: 0 };
  for (let i = 0; i < 8; i++) {
    await sleep(500);
    held.server = Math.max(held.server, rss(server.proc.pid!));
    held.sc = Math.max(held.sc, rss(sc.proc.pid!));
  }
  // Windows are 16 MiB per stream and 64 MiB per connection: far below the 512 MiB body.
  assert.ok(
    held.server - before.server < 160 * MiB,
    `sc-server grew ${(held.server - before.server) / MiB} MiB`,
  );
  assert.ok(held.sc - before.sc < 160 * MiB, `sc grew ${(held.sc - before.sc) / MiB} MiB`);
  assert.ok(dl.received < size / 2, `only a window's worth arrived while paused (${dl.received / MiB} MiB)`);
  dl.resume();
  const out = await dl.done;
  assert.equal(out.complete, true, JSON.stringify(out));
  assert.equal(out.bytes, size);
});

test('a browser that uploads slowly, in small pieces with pauses: the body arrives intact', async () => {
  const app = await startHttpApp();
  const server = await startServer();
  await startClient(server, { tunnelName: 'slow-write' });
  const body = deterministicBytes(2 * MiB, 7);
  const pieces: Buffer[] = [];
  for (let i = 0; i < body.length; i += 128 * 1024) pieces.push(body.subarray(i, i + 128 * 1024));
  const slow = Readable.from(
    (async function* () {
      for (const p of pieces) {
        await sleep(100); // the slowness under test, not a synchronisation
        yield p;
      }
    })(),
  );
  const r = await proxyRequest(
    server,
    { ...server.admin, tunnel: 'slow-write' },
    { method: 'PUT', url: `${app.url}/sha256`, body: slow, timeoutMs: 60_000 },
  );
  assert.equal(r.status, 200);
  assert.deepEqual(JSON.parse(r.body.toString()), { sha256: sha256(body), bytes: body.length });
});
