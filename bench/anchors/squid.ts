import { chmod, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { freePort, start, tempDir } from '../harness/processes.js';
import { LOOPBACK, type Endpoint, type Placement } from './anchor.js';
import { waitUntilServing } from './probe.js';

/** One plain forward-proxy hop (squid on loopback, no cache, loopback targets only): what a hop costs. */
export async function startSquid(place: Placement): Promise<Endpoint> {
  const dir = await tempDir('squid');
  // squid drops root for the "proxy" user: its log and pid files must be writable by that user.
  await chmod(dir, 0o777);
  const port = await freePort();
  const conf = join(dir, 'squid.conf');
  await writeFile(
    conf,
    [
      `http_port ${LOOPBACK}:${port}`,
      `pid_filename ${join(dir, 'squid.pid')}`,
      `cache_log ${join(dir, 'cache.log')}`,
      'access_log none',
      'cache deny all',
      'cache_mem 8 MB',
      'pinger_enable off',
      'netdb_filename none',
      'logfile_rotate 0',
      'shutdown_lifetime 1 seconds',
      `coredump_dir ${dir}`,
      'acl lo_src src 127.0.0.1/32',
      'acl lo_dst dst 127.0.0.1/32',
      'http_access allow lo_src lo_dst',
      'http_access deny all',
      'via off',
      'forwarded_for transparent',
      '',
    ].join('\n'),
  );
  const proc = start('squid', ['-N', '-f', conf], { netns: place.serverNs });
  const ep = {
    proxy: { host: LOOPBACK, port },
    url: `http://${place.originAddrFromServer}:${place.origin.http}`,
  };
  await waitUntilServing(ep, place.serverNs).catch((err: Error) => {
    throw new Error(`squid: ${err.message}\n${proc.output().slice(-1500)}`);
  });
  return { name: 'squid', ...ep, pids: { squid: proc.pid }, stop: () => proc.stop('SIGINT') };
}
