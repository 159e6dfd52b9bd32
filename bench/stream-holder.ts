/**
 * Process entry for the many-streams workload: opens --count CONNECT tunnels through a forward proxy to a TCP
 * echo target and holds them. Prints "OPEN <ok> <failed>" when all are up, holds them for --hold-ms (the
 * bench reads RSS then), checks that every one still echoes, prints "ECHO <ok>" and exits.
 */
import { connect, type Socket } from 'node:net';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    proxy: { type: 'string' },
    auth: { type: 'string', default: '' },
    target: { type: 'string' },
    count: { type: 'string', default: '10000' },
    concurrency: { type: 'string', default: '200' },
    'hold-ms': { type: 'string', default: '4000' },
  },
});
const [proxyHost, proxyPort] = values.proxy!.split(':');
const count = Number(values.count);

function openOne(): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect(Number(proxyPort), proxyHost);
    const auth = values.auth ? `Proxy-Authorization: ${values.auth}\r\n` : '';
    s.once('error', reject);
    s.setTimeout(30_000, () => s.destroy(new Error('timeout')));
    s.on('connect', () =>
      s.write(`CONNECT ${values.target} HTTP/1.1\r\nHost: ${values.target}\r\n${auth}\r\n`),
    );
    let head = '';
    const onData = (b: Buffer): void => {
      head += b.toString('latin1');
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) return;
      s.off('data', onData);
      s.setTimeout(0);
      if (!/^HTTP\/1\.[01] 200/.test(head)) reject(new Error(head.split('\r\n')[0]));
      else resolve(s);
    };
    s.on('data', onData);
  });
}

const sockets: Socket[] = [];
let failed = 0;
let next = 0;
async function worker(): Promise<void> {
  while (next < count) {
    next++;
    try {
      sockets.push(await openOne());
    } catch {
      failed++;
    }
  }
}
await Promise.all(Array.from({ length: Number(values.concurrency) }, worker));
process.stdout.write(`OPEN ${sockets.length} ${failed}\n`);
await new Promise((r) => setTimeout(r, Number(values['hold-ms'])));

function echo(s: Socket): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), 20_000);
    s.once('data', (b: Buffer) => {
      clearTimeout(timer);
      resolve(b.toString() === 'ping');
    });
    s.once('error', () => resolve(false));
    s.write('ping');
  });
}
let echoed = 0;
for (let i = 0; i < sockets.length; i += 500) {
  const ok = await Promise.all(sockets.slice(i, i + 500).map(echo));
  echoed += ok.filter(Boolean).length;
}
process.stdout.write(`ECHO ${echoed}\n`);
for (const s of sockets) s.destroy();
process.exit(0);
