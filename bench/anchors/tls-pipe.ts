import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createCa, issueCertificate } from '../../src/server/pki/ca.js';
import { start, tempDir, waitFor, type Proc } from '../harness/processes.js';
import { LOOPBACK, type Endpoint, type Placement } from './anchor.js';
import { waitUntilServing } from './probe.js';

const entry = join(fileURLToPath(new URL('.', import.meta.url)), '..', 'tls-pipe.js');

/**
 * The floor: two Node processes piping each connection through TLS 1.3 (bench/tls-pipe.ts), the same shape as
 * `ssh -R` (a port on the server side, a process beside the origin) with nothing but Node's sockets and TLS in
 * between. Not a product anyone would run; it shows what any tunnel made of two Node processes pays per byte and
 * per request on this machine, so Sluice's figures can be read against it.
 */
export async function startTlsPipe(place: Placement): Promise<Endpoint> {
  const dir = await tempDir('tlspipe');
  const ca = await createCa('bench floor CA', 1);
  const leaf = await issueCertificate(ca, ['localhost'], 2);
  await writeFile(join(dir, 'ca.pem'), ca.certPem);
  await writeFile(join(dir, 'cert.pem'), leaf.certPem);
  await writeFile(join(dir, 'key.pem'), leaf.keyPem);
  const portOf = (p: Proc, what: string): Promise<number> =>
    waitFor(what, async () => {
      if (p.child.exitCode !== null) throw new Error(`${what} exited: ${p.output().slice(-800)}`);
      const line = p.output().split('\n')[0];
      return line?.startsWith('{') ? (JSON.parse(line) as { port: number }).port : undefined;
    });
  const back = start(
    process.execPath,
    [
      entry,
      '--mode',
      'back',
      '--target',
      `${LOOPBACK}:${place.origin.http}`,
      '--cert',
      join(dir, 'cert.pem'),
      '--key',
      join(dir, 'key.pem'),
    ],
    { netns: place.clientNs },
  );
  const backPort = await portOf(back, 'tls-pipe back');
  const front = start(
    process.execPath,
    [entry, '--mode', 'front', '--target', `${LOOPBACK}:${backPort}`, '--ca', join(dir, 'ca.pem')],
    { netns: place.serverNs },
  );
  const frontPort = await portOf(front, 'tls-pipe front');
  const ep = { url: `http://${LOOPBACK}:${frontPort}` };
  await waitUntilServing(ep, place.serverNs);
  return {
    name: 'tlspipe',
    ...ep,
    pids: { front: front.pid, back: back.pid },
    stop: async () => {
      await front.stop();
      await back.stop();
    },
  };
}
