/**
 * sc-server on the PostgreSQL store with real processes: a tunnel's whole life through it, the database stopped
 * and started under a running server (readiness 503 and REST 503 store_unavailable, no crash, then recovery with
 * nothing lost), a database down at start, the password kept out of logs, errors and the process title, and the
 * embedded store refusing a second server on its data directory.
 */
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import {
  cleanup,
  NodeProcess,
  proxyGet,
  rest,
  SERVER_MAIN,
  startClient,
  startHttpApp,
  startServer,
  tempDir,
  waitFor,
  type TestServer,
} from '../../kit/index.js';
import { postgresMissing, startPostgres } from '../../kit/postgres.js';

after(cleanup);

const PASSWORD = 'pg-s3cret-Passw0rd';

function cleanEnv(extra: Record<string, string> = {}): Record<string, string | undefined> {
  const env: Record<string, string | undefined> = { ...process.env };
  for (const k of Object.keys(env))
    if (k.startsWith('SC_') || k.startsWith('SAUCE_') || k.startsWith('SLUICE_') || k.startsWith('PG'))
      delete env[k];
  return { ...env, ...extra };
}

/** GET a path of the REST listener (readiness, health), trusting the server's CA. */
function restGet(server: TestServer, path: string): Promise<{ status: number; body: string }> {
  const u = new URL(server.restUrl);
  return new Promise((resolve, reject) => {
    const req = https.get(
      { host: u.hostname, port: u.port, path, ca: server.caPem, timeout: 15_000 },
      (res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('timeout', () => req.destroy(new Error(`GET ${path} timed out`)));
    req.on('error', reject);
  });
}

const withPassword = (url: string): string => url.replace('postgres@', `postgres:${PASSWORD}@`);

describe('sc-server on PostgreSQL', { skip: postgresMissing() }, () => {
  test('tunnels run through a postgres store, which survives the database going away and coming back', async () => {
    const pg = await startPostgres();
    const url = withPassword(await pg.newDatabase('server'));
    const app = await startHttpApp();
    const server = await startServer({
      args: ['--store', url, '--store-connect-timeout', '1s', '--store-statement-timeout', '2s'],
      env: { SLUICE_SERVER_STORE_POOL_SIZE: '3' },
    });
    assert.match(server.logs(), /opened store/);
    assert.ok(server.logs().includes(url.replace(PASSWORD, '****')), server.logs());
    const admin = server.admin;
    const client = await startClient(server, { tunnelName: 'pg-ci' });
    const auth = { username: admin.username, accessKey: admin.accessKey, tunnel: 'pg-ci' };
    const ok = await proxyGet(server, auth, `${app.url}/hello`);
    assert.equal(ok.status, 200, ok.body);
    const before = await rest<{ id: string }[]>(server, 'GET', `/${admin.username}/tunnels`, admin);
    assert.equal(before.status, 200);
    assert.equal((await restGet(server, '/readyz')).status, 200);

    // The database goes away: readiness turns 503, REST answers 503 store_unavailable, nothing crashes.
    await pg.stop();
    await waitFor(
      'readyz 503 while PostgreSQL is down',
      async () => (await restGet(server, '/readyz')).status === 503,
    );
    const down = await rest<{ code: string; error: string }>(
      server,
      'POST',
      `/${admin.username}/tunnels`,
      admin,
      {
        tunnel_identifier: 'while-down',
      },
    );
    assert.equal(down.status, 503, JSON.stringify(down.json));
    assert.equal(down.json.code, 'store_unavailable');
    assert.ok(!JSON.stringify(down.json).includes('127.0.0.1'), 'the database address stays in the log');
    const viaProxy = await proxyGet(
      server,
      { ...auth, accessKey: admin.accessKey + 'x' },
      `${app.url}/hello`,
    );
    assert.equal(viaProxy.status, 503);
    assert.equal(viaProxy.error, 'store_unavailable');
    assert.equal((await restGet(server, '/healthz')).status, 200, 'liveness stays up: no restart loop');
    assert.ok(server.running);

    // Back: ready again, the tunnel history is intact and new writes work.
    await pg.start();
    await waitFor(
      'readyz 200 after PostgreSQL is back',
      async () => (await restGet(server, '/readyz')).status === 200,
    );
    const after2 = await rest<string[]>(server, 'GET', `/${admin.username}/tunnels`, admin);
    assert.equal(after2.status, 200);
    assert.deepEqual(after2.json, before.json);
    const again = await proxyGet(server, auth, `${app.url}/hello`);
    assert.equal(again.status, 200, again.body);
    await client.stop();
    assert.match(server.logs(), /store unavailable: not ready/);
    assert.match(server.logs(), /store available again/);
    assert.ok(!server.logs().includes(PASSWORD), 'the password is never logged');
    const title = readFileSync(`/proc/${server.proc.pid}/cmdline`, 'utf8');
    assert.ok(!title.includes(PASSWORD), `process title: ${title}`);
    assert.equal(await server.stop(), 0, server.logs());
  });

  test('a database down at start: retried with backoff, then a clear error without the password', async () => {
    const pg = await startPostgres();
    const url = withPassword(await pg.newDatabase('down'));
    await pg.stop();
    const dir = await tempDir('sluice-pg-down-');
    const p = new NodeProcess(
      'sc-server',
      SERVER_MAIN,
      [
        'start',
        '--data-dir',
        join(dir, 'data'),
        '--rest-address',
        '127.0.0.1:0',
        '--proxy-address',
        '127.0.0.1:0',
        '--edge-address',
        '127.0.0.1:0',
        '--store',
        url,
        '--store-start-retry',
        '1500ms',
      ],
      cleanEnv(),
    );
    const exit = await p.waitExit();
    const out = p.logs();
    assert.notEqual(exit.code, 0, out);
    assert.match(out, /store unavailable, retrying/);
    assert.match(
      out,
      /sc-server: fatal: store postgres:\/\/postgres:\*\*\*\*@127\.0\.0\.1:\d+\/down_\S+ is unavailable/,
    );
    assert.doesNotMatch(out, /^\s+at /m, 'no stack trace');
    assert.ok(!out.includes(PASSWORD), out);

    // The password from a file (a mounted Secret) instead of the URL; the database is back meanwhile.
    await pg.start();
    const file = join(dir, 'pgpass');
    writeFileSync(file, `${PASSWORD}\n`, { mode: 0o600 });
    const server = await startServer({
      args: ['--store', url.replace(`:${PASSWORD}`, ''), '--store-password-file', file],
    });
    assert.equal((await restGet(server, '/readyz')).status, 200);
    assert.ok(!server.logs().includes(PASSWORD));
    assert.equal(await server.stop(), 0);

    // A database that does not exist is refused at once (no retrying), named, without the password.
    const missing = new NodeProcess(
      'sc-server',
      SERVER_MAIN,
      [
        'start',
        '--data-dir',
        join(dir, 'data2'),
        ...['--rest-address', '--edge-address', '--proxy-address'].flatMap((f) => [f, '127.0.0.1:0']),
        '--store',
        url.replace(/\/down_\w+$/, '/nosuchdb'),
      ],
      cleanEnv(),
    );
    const refused = await missing.waitExit();
    assert.equal(refused.code, 1, missing.logs());
    assert.match(
      missing.logs(),
      /store postgres:\/\/postgres:\*\*\*\*@127\.0\.0\.1:\d+\/nosuchdb refused this server: 3D000/,
    );
    assert.doesNotMatch(missing.logs(), /retrying|^\s+at /m);
    assert.ok(!missing.logs().includes(PASSWORD));
  });

  test('while the database is down at start, the REST address answers readiness 503, then the server starts', async () => {
    const pg = await startPostgres();
    const url = await pg.newDatabase('late');
    await pg.stop();
    const dir = await tempDir('sluice-pg-late-');
    const data = join(dir, 'data');
    const p = new NodeProcess(
      'sc-server',
      SERVER_MAIN,
      [
        'start',
        '--data-dir',
        data,
        ...['--rest-address', '--edge-address', '--proxy-address'].flatMap((f) => [f, '127.0.0.1:0']),
        ...['--store', url, '--store-start-retry', '2m'],
      ],
      cleanEnv(),
    );
    const port = (
      await p.waitForLog(/answering probes while the store is unavailable address="?127\.0\.0\.1:(\d+)/)
    )[1]!;
    const ca = readFileSync(join(data, 'ca.pem'), 'utf8');
    const get = (path: string): Promise<{ status: number; error: string | undefined }> =>
      new Promise((resolve, reject) => {
        https
          .get({ host: '127.0.0.1', port, path, ca, timeout: 15_000 }, (res) => {
            res.resume();
            resolve({
              status: res.statusCode ?? 0,
              error: res.headers['x-sluice-error'] as string | undefined,
            });
          })
          .on('error', reject);
      });
    assert.deepEqual(await get('/readyz'), { status: 503, error: 'store_unavailable' });
    assert.equal((await get('/healthz')).status, 200, 'alive: no restart loop');
    assert.deepEqual(await get('/rest/v1/admin/tunnels'), { status: 503, error: 'store_unavailable' });
    // The database comes back: the server opens it and starts for real (server.json written), ready.
    await pg.start();
    const info = await waitFor(
      'server.json',
      () => {
        try {
          return JSON.parse(readFileSync(join(data, 'server.json'), 'utf8')) as { rest_url: string };
        } catch {
          return undefined;
        }
      },
      60_000,
      () => p.logs(),
    );
    const ready = await new Promise<number>((resolve, reject) => {
      https
        .get(`${new URL(info.rest_url).origin}/readyz`, { ca, timeout: 15_000 }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        })
        .on('error', reject);
    });
    assert.equal(ready, 200);
    assert.equal((await p.stop()).code, 0);
  });

  test('no acknowledged write is lost when the database stops and starts under a stream of writes', async () => {
    const pg = await startPostgres();
    const url = await pg.newDatabase('writes');
    const server = await startServer({ args: ['--store', url, '--store-connect-timeout', '500ms'] });
    const acked: string[] = [];
    const statuses = new Map<number, number>();
    let n = 0;
    // Four writers, each creating orgs one after another, until enough were acknowledged after the restart.
    let phase: 'before' | 'down' | 'after' = 'before';
    let ackedAfter = 0;
    const writer = async (w: number): Promise<void> => {
      while (ackedAfter < 20) {
        const name = `org-${w}-${n++}`;
        const r = await rest(server, 'POST', '/admin/orgs', server.admin, { name });
        statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
        assert.ok(r.status === 201 || r.status === 503, `${name}: ${r.status} ${r.text}`);
        if (r.status === 201) {
          acked.push(name);
          if (phase === 'after') ackedAfter++;
        }
      }
    };
    const writers = [0, 1, 2, 3].map((w) => writer(w));
    await waitFor('20 writes acknowledged', () => acked.length >= 20);
    await pg.stop();
    phase = 'down';
    await waitFor('writes refused while down', () => (statuses.get(503) ?? 0) >= 4);
    await pg.start();
    phase = 'after';
    await Promise.all(writers);
    const orgs = await rest<{ name: string }[] | { orgs: { name: string }[] }>(
      server,
      'GET',
      '/admin/orgs',
      server.admin,
    );
    assert.equal(orgs.status, 200, orgs.text);
    const list = Array.isArray(orgs.json) ? orgs.json : orgs.json.orgs;
    const stored = new Set(list.map((o) => o.name));
    const lost = acked.filter((a) => !stored.has(a));
    assert.deepEqual(lost, [], 'every acknowledged write is in the store');
    assert.ok(server.running);
    assert.equal(await server.stop(), 0, server.logs());
  });

  test('two servers sharing the database, secret and CA see the same accounts and tunnels; admin uses --store', async () => {
    const pg = await startPostgres();
    const url = await pg.newDatabase('shared');
    // The shared state made once (what the chart mounts from one Secret), copied into each node's data dir.
    const root = await tempDir('sluice-nodes-');
    const init = new NodeProcess(
      'sc-server admin',
      SERVER_MAIN,
      ['admin', 'init-shared', '--out', join(root, 'shared')],
      cleanEnv(),
    );
    assert.equal((await init.waitExit()).code, 0, init.logs());
    const node = (name: string): string => {
      const dir = join(root, name);
      mkdirSync(dir, { mode: 0o700 });
      for (const f of ['server-secret', 'ca.pem', 'ca-key.pem'])
        copyFileSync(join(root, 'shared', f), join(dir, f));
      return dir;
    };
    const a = await startServer({ args: ['--store', url], dataDir: node('a') });
    const dirB = node('b');
    const b = await startServer({
      args: ['--store', url],
      dataDir: dirB,
      adminKey: 'ignored-on-a-second-node',
    });
    assert.equal(b.caPem, a.caPem, 'one CA for both nodes');
    const created = await rest<{ access_key: string }>(a, 'POST', '/admin/users', a.admin, {
      username: 'alice',
      role: 'team_member',
    });
    assert.equal(created.status, 201, created.text);
    const alice = { username: 'alice', accessKey: created.json.access_key };
    assert.ok(alice.accessKey, created.text);
    // Created on A, authenticates on B (same secret, same store); the first admin works on both.
    const onB = await rest(b, 'GET', '/alice/tunnels', alice);
    assert.equal(onB.status, 200, onB.text);
    assert.equal((await rest(b, 'GET', '/admin/users', a.admin)).status, 200);
    // A tunnel made through A is in B's REST history.
    const t = await rest<{ id: string }>(a, 'POST', '/alice/tunnels', alice, { tunnel_identifier: 'shared' });
    assert.equal(t.status, 200, t.text);
    const listed = await rest<string[]>(b, 'GET', '/alice/tunnels', alice);
    assert.deepEqual(listed.json, [t.json.id]);
    // sc-server admin reaches the same store with --store (its data dir only for the secret).
    const admin = new NodeProcess(
      'sc-server admin',
      SERVER_MAIN,
      ['admin', 'users', 'list', '--data-dir', dirB],
      cleanEnv({ SLUICE_SERVER_STORE: url }),
    );
    assert.equal((await admin.waitExit()).code, 0, admin.logs());
    assert.match(admin.logs(), /^alice\trole=team_member/m);
    const backup = new NodeProcess(
      'sc-server admin',
      SERVER_MAIN,
      ['admin', 'backup', '--out', join(dirB, 'bk'), '--store', url, '--data-dir', dirB],
      cleanEnv(),
    );
    assert.equal((await backup.waitExit()).code, 2);
    assert.match(backup.logs(), /pg_dump/);
    await b.stop();
    await a.stop();
  });

  test('bad store settings are refused before anything starts', async () => {
    const dir = await tempDir('sluice-pg-bad-');
    for (const [args, re] of [
      [['--store', 'mysql://x@h/db'], /invalid value "mysql:\/\/x@h\/db" for --store .*postgres:\/\//],
      [['--store', `postgres://u:${PASSWORD}@/db`], /--store .*(names no host|not a valid URL)/],
      [['--store-pool-size', '0'], /--store-pool-size .*at least 1/],
      [['--store-password-file', join(dir, 'missing')], /--store-password-file .*no such file/],
    ] as const) {
      const p = new NodeProcess(
        'sc-server',
        SERVER_MAIN,
        [
          'start',
          '--data-dir',
          join(dir, 'd'),
          ...['--rest-address', '--edge-address', '--proxy-address'].flatMap((f) => [f, '127.0.0.1:0']),
          ...args,
        ],
        cleanEnv(),
      );
      const exit = await p.waitExit();
      assert.equal(exit.code, 2, p.logs());
      assert.match(p.logs(), re);
      assert.ok(!p.logs().includes(PASSWORD), p.logs());
    }
  });
});

test('the embedded store serves one server: a second one on the same data dir is refused, admin still works', async () => {
  const first = await startServer();
  const p = new NodeProcess(
    'sc-server',
    SERVER_MAIN,
    [
      'start',
      '--data-dir',
      first.dataDir,
      '--rest-address',
      '127.0.0.1:0',
      '--proxy-address',
      '127.0.0.1:0',
      '--edge-address',
      '127.0.0.1:0',
    ],
    cleanEnv(),
  );
  const exit = await p.waitExit();
  assert.notEqual(exit.code, 0, p.logs());
  assert.match(p.logs(), new RegExp(`in use by another sc-server \\(pid ${first.proc.pid}`));
  assert.doesNotMatch(p.logs(), /^\s+at /m);
  assert.ok(first.running);
  const admin = new NodeProcess(
    'sc-server admin',
    SERVER_MAIN,
    ['admin', 'users', 'list', '--data-dir', first.dataDir],
    cleanEnv(),
  );
  const adminExit = await admin.waitExit();
  assert.equal(adminExit.code, 0, admin.logs());
  assert.match(admin.logs(), /admin/);
  // A lock left by a killed server does not block the next start.
  const dataDir = first.dataDir;
  await first.kill();
  const next = await startServer({ dataDir });
  assert.ok(next.running);
  await next.stop();
});
