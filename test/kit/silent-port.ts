/**
 * A loopback port that never answers a SYN: a listener that never accepts (backlog 0) whose accept queue the kit
 * fills, so the kernel drops every further SYN and a connect can only time out. For dial timeouts end to end
 * without touching any other address or the host's firewall.
 */
import { spawn, spawnSync } from 'node:child_process';
import net from 'node:net';
import { onCleanup, trackChild, waitFor } from './cleanup.js';

const LISTENER = `
import socket, sys
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(0)
print(s.getsockname()[1], flush=True)
sys.stdin.read()
`;

/** Accept-queue length and limit of the listening socket on `port` (ss: Recv-Q, Send-Q), or undefined. */
function acceptQueue(port: number): { queued: number; limit: number } | undefined {
  const r = spawnSync('ss', ['-Hltn', `( sport = :${port} )`], { encoding: 'utf8' });
  if (r.error) throw new Error(`ss is needed to observe sockets: ${r.error.message}`);
  const m = /^\s*LISTEN\s+(\d+)\s+(\d+)\s/m.exec(r.stdout) ?? /^\s*(\d+)\s+(\d+)\s/m.exec(r.stdout);
  return m ? { queued: Number(m[1]), limit: Number(m[2]) } : undefined;
}

export async function startSilentPort(): Promise<{ port: number; host: string; url: string }> {
  const py = spawn('python3', ['-c', LISTENER], { stdio: ['pipe', 'pipe', 'inherit'] });
  trackChild(py);
  onCleanup(async () => {
    py.kill('SIGKILL');
  });
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    py.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /^(\d+)\n/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    py.once('exit', (code) => reject(new Error(`the silent listener exited (${code}) before listening`)));
    py.once('error', reject);
  });
  // Fill the accept queue; the fillers beyond it stay in SYN-SENT, which is fine.
  const fillers: net.Socket[] = [];
  onCleanup(async () => {
    for (const s of fillers) s.destroy();
  });
  for (let i = 0; i < 3; i++) {
    const s = net.connect(port, '127.0.0.1');
    s.on('error', () => undefined);
    fillers.push(s);
  }
  await waitFor(`the accept queue of 127.0.0.1:${port} to be full`, () => {
    const q = acceptQueue(port);
    return q !== undefined && q.queued > q.limit;
  });
  return { port, host: `127.0.0.1:${port}`, url: `http://127.0.0.1:${port}` };
}
