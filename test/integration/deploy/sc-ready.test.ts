/**
 * `sc ready` against a real `sc run`: 1 while the tunnel is not up, 0 once /readyz is 200; the address from the
 * flag, SAUCE_API_ADDRESS or the config file; basic auth; bad input exits 2 with the problem named.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  CLIENT_MAIN,
  cleanup,
  closedPort,
  READY_LINE,
  startClient,
  startServer,
  tempDir,
} from '../../kit/index.js';

after(cleanup);

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

function scReady(args: string[], env: Record<string, string> = {}, cwd?: string): Promise<Result> {
  const clean: Record<string, string | undefined> = { ...process.env };
  for (const k of Object.keys(clean)) if (k.startsWith('SAUCE_')) delete clean[k];
  return new Promise((done) => {
    execFile(
      process.execPath,
      [CLIENT_MAIN, 'ready', ...args],
      { env: { ...clean, ...env }, cwd, timeout: 20_000 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
        done({ code, stdout, stderr });
      },
    );
  });
}

test('sc ready: 1 with a one-line reason when nothing listens, 0 once the tunnel is ready', async () => {
  const port = await closedPort();
  const down = await scReady(['--api-address', `127.0.0.1:${port}`]);
  assert.equal(down.code, 1);
  assert.match(down.stderr, /^not ready: cannot reach the sc API at 127\.0\.0\.1:\d+: ECONNREFUSED\n$/);

  const server = await startServer();
  // The kit's own readiness wait has no credentials for the API: wait for the ready line instead.
  const client = await startClient(server, {
    tunnelName: 'ready-probe',
    waitReady: false,
    args: ['--api-basic-auth', 'ops:s3cret'],
  });
  await client.waitForLog(READY_LINE);
  const address = client.apiUrl.replace('http://', '');

  const noAuth = await scReady(['--api-address', address]);
  assert.equal(noAuth.code, 1);
  assert.match(noAuth.stderr, /answered 401: set --api-basic-auth/);

  const byFlag = await scReady(['--api-address', address, '--api-basic-auth', 'ops:s3cret']);
  assert.equal(byFlag.code, 0, byFlag.stderr);
  assert.match(byFlag.stdout, /^ready: http:\/\/127\.0\.0\.1:\d+\/readyz answered 200\n$/);

  const byEnv = await scReady([], { SAUCE_API_ADDRESS: address, SAUCE_API_BASIC_AUTH: 'ops:s3cret' });
  assert.equal(byEnv.code, 0, byEnv.stderr);

  // The config file sc run reads; the wildcard host ":PORT" is probed on loopback.
  const dir = await tempDir();
  const port2 = address.split(':')[1];
  await writeFile(
    join(dir, 'sc.yaml'),
    `api-address: ":${port2}"\napi-basic-auth: ops:s3cret\nregion: us-west\n`,
  );
  const byFile = await scReady(['-c', 'sc.yaml'], {}, dir);
  assert.equal(byFile.code, 0, byFile.stderr);
  const byEnvFile = await scReady([], { SAUCE_CONFIG_FILE: join(dir, 'sc.yaml') });
  assert.equal(byEnvFile.code, 0, byEnvFile.stderr);
  // The flag wins over the config file.
  const flagWins = await scReady(['-c', join(dir, 'sc.yaml'), '--api-address', `127.0.0.1:${port}`]);
  assert.equal(flagWins.code, 1);

  // Draining: once sc stops, the probe says so.
  await client.stop();
  const stopped = await scReady(['--api-address', address, '--api-basic-auth', 'ops:s3cret']);
  assert.equal(stopped.code, 1);
});

test('sc ready: 503 from an sc whose tunnel is not up is "not ready"', async () => {
  const server = await startServer();
  const dead = await closedPort();
  const client = await startClient(server, {
    tunnelName: 'never-up',
    waitReady: false,
    args: ['--rest-url', `https://127.0.0.1:${dead}/rest/v1`],
  });
  const r = await scReady(['--api-address', client.apiUrl.replace('http://', '')]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^not ready: http:\/\/127\.0\.0\.1:\d+\/readyz answered 503\n$/);
  await client.kill();
});

test('sc ready: bad input exits 2 naming the problem, secrets unshown', async () => {
  const cases: [string[], Record<string, string>, RegExp][] = [
    [['--api-address', 'nope'], {}, /invalid value "nope" for --api-address from the command line/],
    [[], { SAUCE_API_ADDRESS: 'host:99999' }, /for --api-address from env SAUCE_API_ADDRESS: invalid port/],
    [['--bogus', 'x'], {}, /unknown flag --bogus for ready/],
    [['extra'], {}, /unexpected argument "extra"/],
    [['--api-address'], {}, /flag --api-address needs a value/],
    [['--timeout', 'soon'], {}, /invalid value "soon" for --timeout/],
    [['-c', '/nonexistent/sc.yaml'], {}, /cannot read config file \/nonexistent\/sc\.yaml.*file not found/],
    [['--api-basic-auth', ':hidden%zz'], {}, /invalid value "\*\*\*\*" for --api-basic-auth/],
  ];
  for (const [args, env, re] of cases) {
    const r = await scReady(args, env);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, re);
    assert.doesNotMatch(r.stderr, /hidden|at .*\.js:\d+/);
  }
  const help = await scReady(['--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /Usage:\n {2}sc ready \[flags\]/);
});
