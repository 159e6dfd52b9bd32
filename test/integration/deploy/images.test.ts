/**
 * The container images (deploy/container): both built from this checkout with podman, pulling nothing; a client
 * container becomes healthy against a server container; and the CI background step of SC5's docs works as
 * written: the client image given only SAUCE_USERNAME and SAUCE_ACCESS_KEY (plus where the server is and whom to
 * trust) with its API on port 8032, then the seed's readiness loop, verbatim, prints "SC ready". Port 8032 is
 * bound inside a network namespace made for this test, so no fixed port is taken on the machine.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { chown, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { cleanup, freePort, onCleanup, sleep, tempDir, waitFor } from '../../kit/index.js';
import {
  buildImages,
  containerCleanup,
  must,
  PODMAN_RUN_FLAGS,
  quiet,
  requirePodman,
  run,
  recipe,
  SEED_READINESS_LOOP,
} from './podman.js';

after(cleanup);

const USER = 'alice';
const KEY = randomBytes(18).toString('base64url');
let images: { client: string; server: string; id: string };

/** The env a client container gets: only the account, where the server is and whom to trust (as the seed). */
function clientEnv(server: { info: { rest_url: string }; caPem: string }): string[] {
  return [
    '-e',
    `SAUCE_USERNAME=${USER}`,
    '-e',
    `SAUCE_ACCESS_KEY=${KEY}`,
    '-e',
    `SAUCE_REST_URL=${server.info.rest_url}`,
    '-e',
    `SAUCE_CACERT_FILE=data:base64,${Buffer.from(server.caPem).toString('base64')}`,
  ];
}

before(async () => {
  await requirePodman();
  images = await buildImages();
});

interface ServerJson {
  rest_url: string;
  ca_cert: string;
}

/** A server container in `netns` (or on the machine's network) on loopback ports chosen by the kernel. */
async function startServerContainer(
  name: string,
  netns?: string,
): Promise<{ info: ServerJson; caPem: string; logs: () => Promise<string> }> {
  const dataDir = join(await tempDir('sluice-deploy-'), 'data');
  await must('mkdir', [dataDir]);
  await chown(dataDir, 10001, 10001); // the image's user owns its data volume
  containerCleanup(name);
  const args = [
    'run',
    '-d',
    '--name',
    name,
    ...PODMAN_RUN_FLAGS,
    '--read-only', // as the Kubernetes objects run it
    netns ? `--network=ns:/run/netns/${netns}` : '--network=host',
    '-v',
    `${dataDir}:/var/lib/sluice`,
    '-e',
    'SC_REST_ADDRESS=127.0.0.1:0',
    '-e',
    'SC_EDGE_ADDRESS=127.0.0.1:0',
    '-e',
    'SC_PROXY_ADDRESS=127.0.0.1:0',
    '-e',
    `SC_ADMIN_USERNAME=${USER}`,
    '-e',
    `SC_ADMIN_ACCESS_KEY=${KEY}`,
    images.server,
  ];
  await must('podman', args);
  const logs = async (): Promise<string> => {
    const r = await run('podman', ['logs', name]);
    return r.stdout + quiet(r.stderr);
  };
  const info = await waitFor(
    'server.json from the server container',
    async () => {
      await sleep(200);
      return JSON.parse(await readFile(join(dataDir, 'server.json'), 'utf8')) as ServerJson;
    },
    60_000,
  );
  // The image's healthcheck reads the same file and probes /readyz over TLS with the server's own CA.
  await waitFor('the server container healthy', async () => {
    await sleep(200);
    return (await run('podman', ['healthcheck', 'run', name])).code === 0;
  });
  const caPem = await readFile(join(dataDir, 'ca.pem'), 'utf8');
  return { info, caPem, logs };
}

test('images: non-root, pulled nothing, a client container becomes healthy against a server container', async () => {
  for (const image of [images.client, images.server]) {
    const cfg = JSON.parse(await must('podman', ['image', 'inspect', image])) as {
      Config: { User: string };
      Healthcheck?: { Test: string[] };
    }[];
    assert.equal(cfg[0]!.Config.User, '10001:10001', `${image} runs as a non-root user`);
    assert.ok(cfg[0]!.Healthcheck?.Test.length, `${image} has a HEALTHCHECK`);
  }
  const server = await startServerContainer(`sluice-test-${images.id}-server`);
  const apiPort = await freePort();
  const name = `sluice-test-${images.id}-client`;
  containerCleanup(name);
  await must('podman', [
    'run',
    '-d',
    '--name',
    name,
    ...PODMAN_RUN_FLAGS,
    '--read-only',
    '--network=host',
    '--hostname',
    `ci-${images.id}`,
    ...clientEnv(server),
    '-e',
    `SAUCE_API_ADDRESS=127.0.0.1:${apiPort}`,
    images.client,
  ]);
  const logs = async (): Promise<string> => {
    const r = await run('podman', ['logs', name]);
    return r.stdout + quiet(r.stderr);
  };
  // Not healthy until the tunnel is up; then `podman healthcheck run` (the image's `sc ready`) says so.
  await waitFor(
    'the client container healthy',
    async () => {
      await sleep(200);
      return (await run('podman', ['healthcheck', 'run', name])).code === 0;
    },
    60_000,
  ).catch(async (err: Error) => {
    throw new Error(
      `${err.message}\n--- client ---\n${await logs()}\n--- server ---\n${await server.logs()}`,
    );
  });
  const status = await must('podman', ['inspect', name, '--format', '{{.State.Health.Status}}']);
  assert.equal(status.trim(), 'healthy');
  const out = await logs();
  // Neither a tunnel name nor a region was given: the image's documented defaults, not a failure.
  assert.match(out, new RegExp(`tunnel-name=ci-${images.id}\\b`));
  assert.match(out, /region=us-west\b/);
  assert.match(out, /you may start your tests/);
  assert.doesNotMatch(out + (await server.logs()), new RegExp(KEY));

  // Stopping drains and exits 0 (SIGTERM is the image's stop signal).
  await must('podman', ['stop', '-t', '30', name]);
  const exit = await must('podman', ['inspect', name, '--format', '{{.State.ExitCode}}']);
  assert.equal(exit.trim(), '0');
});

test('images: the CI background step of SC5 docs, readiness loop verbatim on localhost:8032', async () => {
  const ns = `sluice-dep-${images.id}`;
  await must('ip', ['netns', 'add', ns]);
  onCleanup(() => run('ip', ['netns', 'del', ns]));
  await must('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
  const server = await startServerContainer(`sluice-test-${images.id}-ci-server`, ns);
  const name = `sluice-test-${images.id}-ci-client`;
  containerCleanup(name);
  // Only the seed's two variables, plus where the server is and whom to trust. The image puts the API on :8032,
  // bound in the namespace that the container shares with the loop below (the seed's portBindings 8032:8032).
  await must('podman', [
    'run',
    '-d',
    '--name',
    name,
    ...PODMAN_RUN_FLAGS,
    `--network=ns:/run/netns/${ns}`,
    ...clientEnv(server),
    images.client,
  ]);
  const loop = await run('ip', ['netns', 'exec', ns, 'bash', '-c', SEED_READINESS_LOOP], 90_000);
  const logs = await run('podman', ['logs', name]);
  assert.equal(
    loop.code,
    0,
    `readiness loop: ${loop.stderr}\n--- client ---\n${logs.stdout}${quiet(logs.stderr)}`,
  );
  assert.equal(loop.stdout, 'SC ready\n');
  // And it really was this container's tunnel that the loop waited for.
  const readyz = await run('ip', [
    'netns',
    'exec',
    ns,
    'curl',
    '-s',
    '-o',
    '/dev/null',
    '-w',
    '%{http_code}',
    'localhost:8032/readyz',
  ]);
  assert.equal(readyz.stdout, '200');
  assert.match(logs.stdout, /API server listening address=":8032"|API server listening address=:8032/);
  assert.match(logs.stdout, /you may start your tests/);
});

test('docs/deploy.md "CI background step" runs as written (docker is podman here)', async () => {
  const ns = `sluice-rcp-${images.id}`;
  await must('ip', ['netns', 'add', ns]);
  onCleanup(() => run('ip', ['netns', 'del', ns]));
  await must('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
  const server = await startServerContainer(`sluice-test-${images.id}-rcp-server`, ns);
  const name = `sluice-test-${images.id}-rcp-sc`;
  containerCleanup(name);
  // Only the image and container names differ from the docs (both are global on this machine).
  const text = recipe('ci-background-step')
    .replace('sluice-sc:0.1.0', images.client)
    .replace('--name sc ', `--name ${name} `);
  const shim =
    'docker() { if [ "$1" = run ]; then shift; podman run ' +
    PODMAN_RUN_FLAGS.join(' ') +
    ' "$@"; else podman "$@"; fi; }';
  const env = {
    ...process.env,
    SAUCE_USERNAME: USER,
    SAUCE_ACCESS_KEY: KEY,
    SAUCE_REST_URL: server.info.rest_url,
    SAUCE_CACERT_FILE: `data:base64,${Buffer.from(server.caPem).toString('base64')}`,
  };
  // nsenter (not ip netns exec, which remounts /sys and hides the cgroups podman needs): the job's network is the
  // namespace, so `--network host` and localhost:8032 are the namespace's.
  const r = await run(
    'nsenter',
    [`--net=/run/netns/${ns}`, 'bash', '-c', `set -e\n${shim}\n${text}`],
    90_000,
    env,
  );
  const logs = await run('podman', ['logs', name]);
  assert.equal(r.code, 0, `recipe: ${r.stdout}${quiet(r.stderr)}\n--- sc ---\n${logs.stdout}`);
  assert.match(r.stdout, /SC ready\n$/);
  assert.match(logs.stdout, /you may start your tests/);
  // The job's end: docker stop drains, deletes the tunnel and exits 0.
  await must('podman', ['stop', '-t', '60', name]);
  assert.equal((await must('podman', ['inspect', name, '--format', '{{.State.ExitCode}}'])).trim(), '0');
  assert.match((await run('podman', ['logs', name])).stdout, /tunnel deleted/);
});
