/**
 * Issue 14, point 2: cluster mode needs the shared store (the embedded one refuses to be shared), and every node
 * must have the cluster's CA and server secret (docs/cluster.md). Both mistakes stop the node at start with a
 * clear message, exit 2, no stack trace, nothing listening.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, test } from 'node:test';
import {
  cleanup,
  NodeProcess,
  postgresMissing,
  SERVER_MAIN,
  startPostgres,
  startServer,
  tempDir,
} from '../../kit/index.js';

after(cleanup);

async function start(args: string[]): Promise<{ code: number | null; out: string }> {
  const env: Record<string, string | undefined> = { ...process.env };
  for (const k of Object.keys(env)) if (k.startsWith('SC_') || k.startsWith('SLUICE_')) delete env[k];
  const dataDir = join(await tempDir('sluice-node-'), 'data');
  const p = new NodeProcess('sc-server', SERVER_MAIN, ['start', '--data-dir', dataDir, ...args], env);
  const exit = await p.waitExit();
  return { code: exit.code, out: p.logs() };
}

const local = [
  '--rest-address',
  '127.0.0.1:0',
  '--edge-address',
  '127.0.0.1:0',
  '--proxy-address',
  '127.0.0.1:0',
];

test('--node-address on the embedded store: refused at start, exit 2', async () => {
  const r = await start([...local, '--node-address', '127.0.0.1:0']);
  assert.equal(r.code, 2, r.out);
  assert.match(r.out, /cluster mode \(--node-address\) needs a shared store: --store postgres:\/\//);
  assert.doesNotMatch(r.out, /^\s+at /m);
  assert.doesNotMatch(r.out, /sc-server listening/);
});

test(
  "a node whose CA is not the cluster's: refused at start, exit 2, naming the files to share",
  { skip: postgresMissing() },
  async () => {
    const pg = await startPostgres();
    const store = await pg.newDatabase('cluster_startup');
    const cluster = ['--store', store, '--node-address', '127.0.0.1:0'];
    const first = await startServer({ args: cluster });
    // A second node with a data dir of its own (its own CA and secret), on the same store.
    const r = await start([...local, ...cluster]);
    assert.equal(r.code, 2, r.out);
    assert.match(
      r.out,
      /certificate authority \(.*\) is not the cluster's \(.*\): mount the same ca\.pem and ca-key\.pem/,
    );
    assert.doesNotMatch(r.out, /^\s+at /m);
    assert.doesNotMatch(r.out, /sc-server listening/);
    assert.ok(first.running, 'the first node is unaffected');
  },
);
