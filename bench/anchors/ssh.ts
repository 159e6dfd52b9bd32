import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { freePort, run, start, tempDir } from '../harness/processes.js';
import { LOOPBACK, type Endpoint, type Placement } from './anchor.js';
import { waitUntilServing } from './probe.js';

/**
 * OpenSSH `ssh -R`: the classic encrypted reverse tunnel over one multiplexed TCP connection. sshd runs with its
 * own config, throwaway keys and a free port; the ssh client sits beside the origin and forwards a port on the
 * server side back to it. Default ciphers, as a user would run it.
 */
export async function startSsh(place: Placement): Promise<Endpoint> {
  const dir = await tempDir('ssh');
  await mkdir('/run/sshd', { recursive: true });
  const hostKey = join(dir, 'host_key');
  const userKey = join(dir, 'user_key');
  await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', hostKey]);
  await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', userKey]);
  await writeFile(join(dir, 'authorized_keys'), await readFile(`${userKey}.pub`));
  // Free ports are probed in the root namespace; inside a fresh namespace every port is free anyway.
  const sshdPort = await freePort();
  const fwdPort = await freePort();
  const conf = join(dir, 'sshd_config');
  await writeFile(
    conf,
    [
      `Port ${sshdPort}`,
      `ListenAddress ${place.serverAddr}`,
      `HostKey ${hostKey}`,
      `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
      `PidFile ${join(dir, 'sshd.pid')}`,
      'StrictModes no',
      'UsePAM no',
      'PermitRootLogin prohibit-password',
      'PasswordAuthentication no',
      'AllowTcpForwarding yes',
      'GatewayPorts no',
      'LogLevel ERROR',
      '',
    ].join('\n'),
  );
  const sshd = start('/usr/sbin/sshd', ['-D', '-e', '-f', conf], { netns: place.serverNs });
  const client = start(
    'ssh',
    [
      '-N',
      '-i',
      userKey,
      '-p',
      String(sshdPort),
      '-o',
      'StrictHostKeyChecking=no',
      '-o',
      'UserKnownHostsFile=/dev/null',
      '-o',
      'ExitOnForwardFailure=yes',
      '-o',
      'BatchMode=yes',
      '-o',
      'ConnectionAttempts=20',
      '-o',
      'LogLevel=ERROR',
      '-R',
      `${LOOPBACK}:${fwdPort}:${LOOPBACK}:${place.origin.http}`,
      `root@${place.serverAddr}`,
    ],
    { netns: place.clientNs },
  );
  const ep = { url: `http://${LOOPBACK}:${fwdPort}` };
  await waitUntilServing(ep, place.serverNs).catch((err: Error) => {
    throw new Error(
      `ssh -R: ${err.message}\nsshd: ${sshd.output().slice(-800)}\nssh: ${client.output().slice(-800)}`,
    );
  });
  return {
    name: 'ssh',
    ...ep,
    pids: { ssh: client.pid, sshd: sshd.pid },
    stop: async () => {
      await client.stop();
      await sshd.stop();
    },
  };
}
