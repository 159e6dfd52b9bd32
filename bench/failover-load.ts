/**
 * Process entry for the failover workload: keeps --concurrency GET /1k requests in flight through a forward
 * proxy for --seconds, and prints one JSON line with every failed request's start and end time (epoch ms), so
 * the bench can tell how long after a kill new requests still failed.
 */
import http from 'node:http';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    proxy: { type: 'string' },
    auth: { type: 'string' },
    url: { type: 'string' },
    seconds: { type: 'string', default: '8' },
    concurrency: { type: 'string', default: '16' },
  },
});
const [host, port] = values.proxy!.split(':');
const agent = new http.Agent({ keepAlive: true, maxSockets: Number(values.concurrency) });
const until = Date.now() + Number(values.seconds) * 1000;
let total = 0;
/** [start, end] epoch ms of each failed request. */
const failures: [number, number][] = [];

function once(): Promise<void> {
  const started = Date.now();
  return new Promise((resolve) => {
    const req = http.request(
      {
        host,
        port: Number(port),
        path: values.url,
        agent,
        timeout: 5000,
        headers: { 'proxy-authorization': values.auth, host: new URL(values.url!).host },
      },
      (res) => {
        res.resume();
        res.on('end', () => {
          if (res.statusCode !== 200) failures.push([started, Date.now()]);
          resolve();
        });
        res.on('error', () => {
          failures.push([started, Date.now()]);
          resolve();
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', () => {
      failures.push([started, Date.now()]);
      resolve();
    });
    req.end();
  });
}

async function worker(): Promise<void> {
  while (Date.now() < until) {
    total++;
    await once();
  }
}
await Promise.all(Array.from({ length: Number(values.concurrency) }, worker));
process.stdout.write(`${JSON.stringify({ total, failures })}\n`);
agent.destroy();
