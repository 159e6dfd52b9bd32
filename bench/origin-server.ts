/**
 * The origin every anchor reaches: a Node HTTP server in its own process (so its CPU is not the load
 * generator's or a tunnel's). Prints one JSON line {"http":PORT,"echo":PORT} when listening.
 *   GET /1k           1 KiB body
 *   GET /bytes/N      N bytes, streamed
 *   PUT|POST /upload  reads the body, answers with the byte count
 * A TCP echo port serves the many-streams workload.
 */
import { createServer } from 'node:http';
import { createServer as createTcpServer, type AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: { host: { type: 'string', default: '127.0.0.1' } } });
const host = values.host;
const small = Buffer.alloc(1024, 'x');
const chunk = Buffer.alloc(256 * 1024, 'y');

const http = createServer((req, res) => {
  const url = req.url ?? '/';
  // Proxies forward origin-form; some anchors (squid) may keep absolute-form: take the path either way.
  const path = url.startsWith('http') ? new URL(url).pathname : url;
  if (req.method === 'GET' && path === '/1k') {
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': small.length });
    res.end(small);
    return;
  }
  const m = /^\/bytes\/(\d+)$/.exec(path);
  if (req.method === 'GET' && m) {
    let left = Number(m[1]);
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': left });
    const pump = (): void => {
      while (left > 0) {
        const n = Math.min(left, chunk.length);
        left -= n;
        if (!res.write(n === chunk.length ? chunk : chunk.subarray(0, n))) {
          res.once('drain', pump);
          return;
        }
      }
      res.end();
    };
    pump();
    return;
  }
  if ((req.method === 'PUT' || req.method === 'POST') && path === '/upload') {
    let n = 0;
    req.on('data', (b: Buffer) => (n += b.length));
    req.on('end', () => res.end(`${n}\n`));
    return;
  }
  res.writeHead(404).end('not found\n');
});
http.keepAliveTimeout = 120_000;
http.headersTimeout = 130_000;
http.requestTimeout = 0;

const echo = createTcpServer((s) => {
  s.on('error', () => s.destroy());
  s.pipe(s);
});

http.listen(0, host, () => {
  echo.listen(0, host, () => {
    const port = (s: { address(): unknown }): number => (s.address() as AddressInfo).port;
    process.stdout.write(`${JSON.stringify({ http: port(http), echo: port(echo) })}\n`);
  });
});
process.on('SIGTERM', () => process.exit(0));
