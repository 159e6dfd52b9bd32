/**
 * Process entry for the "small requests inside CONNECT" workload, which is how browsers reach https:// sites
 * through a proxy: --connections sockets each open a CONNECT tunnel (or connect straight to --target without
 * --proxy), then loop keep-alive GET /1k on it for --seconds. Prints one JSON line: requests, p50/p99 in ms,
 * errors. Through Sluice the requests ride one tunnel stream per connection, so this shows what the path costs
 * when it only copies bytes.
 */
import { connect, type Socket } from 'node:net';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    proxy: { type: 'string' },
    auth: { type: 'string', default: '' },
    target: { type: 'string' },
    'host-header': { type: 'string' },
    connections: { type: 'string', default: '64' },
    seconds: { type: 'string', default: '5' },
  },
});
const target = values.target!;
const REQUEST = Buffer.from(`GET /1k HTTP/1.1\r\nHost: ${values['host-header'] ?? target}\r\n\r\n`);
const latencies: number[] = [];
let errors = 0;

function openSocket(): Promise<Socket> {
  return new Promise((resolve, reject) => {
    if (!values.proxy) {
      const [h, p] = target.split(':');
      const s = connect(Number(p), h, () => resolve(s));
      s.once('error', reject);
      return;
    }
    const [h, p] = values.proxy.split(':');
    const s = connect(Number(p), h);
    s.once('error', reject);
    const auth = values.auth ? `Proxy-Authorization: ${values.auth}\r\n` : '';
    s.write(`CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\n${auth}\r\n`);
    let head = '';
    const onData = (b: Buffer): void => {
      head += b.toString('latin1');
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) return;
      s.off('data', onData);
      if (/^HTTP\/1\.[01] 200/.test(head)) resolve(s);
      else reject(new Error(head.split('\r\n')[0]));
    };
    s.on('data', onData);
  });
}

/** One request at a time on the socket: send, read headers and a Content-Length body, repeat. */
function loop(s: Socket, until: number): Promise<void> {
  return new Promise((resolve) => {
    let buf: Buffer = Buffer.alloc(0);
    let started = 0;
    const send = (): void => {
      if (Date.now() >= until) {
        s.destroy();
        return resolve();
      }
      started = performance.now();
      s.write(REQUEST);
    };
    s.on('data', (b: Buffer) => {
      buf = buf.length ? Buffer.concat([buf, b]) : b;
      for (;;) {
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        const m = /content-length: *(\d+)/i.exec(buf.subarray(0, end).toString('latin1'));
        const total = end + 4 + Number(m?.[1] ?? 0);
        if (buf.length < total) return;
        if (!buf.subarray(0, 12).toString('latin1').includes(' 200')) errors++;
        buf = buf.subarray(total);
        latencies.push(performance.now() - started);
        send();
      }
    });
    s.on('error', () => {
      errors++;
      resolve();
    });
    send();
  });
}

const seconds = Number(values.seconds);
const sockets = await Promise.all(Array.from({ length: Number(values.connections) }, openSocket));
const t0 = performance.now();
await Promise.all(sockets.map((s) => loop(s, Date.now() + seconds * 1000)));
const elapsed = (performance.now() - t0) / 1000;
latencies.sort((a, b) => a - b);
const pct = (q: number): number =>
  latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0;
process.stdout.write(
  `${JSON.stringify({ requests: latencies.length, rps: latencies.length / elapsed, p50Ms: pct(0.5), p99Ms: pct(0.99), errors })}\n`,
);
