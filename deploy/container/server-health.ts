// HEALTHCHECK of the sc-server image: GET /readyz on the server's own REST listener, trusting the CA in its data
// directory (both read from DIR/server.json, which sc-server writes once it listens). Exit 0 healthy, else 1.
import { readFileSync } from 'node:fs';
import https from 'node:https';
import { join } from 'node:path';

const dir = process.env.SC_DATA_DIR || '/var/lib/sluice';
let info: { rest_url: string; ca_cert: string };
try {
  info = JSON.parse(readFileSync(join(dir, 'server.json'), 'utf8'));
} catch (err) {
  const e = err as NodeJS.ErrnoException;
  console.error(`not ready: no server.json in ${dir} yet (${e.code ?? e.message})`);
  process.exit(1);
}
const url = new URL('/readyz', info.rest_url);
const req = https.get(
  url,
  { ca: readFileSync(info.ca_cert), servername: url.hostname, timeout: 5000, agent: false },
  (res) => {
    res.resume();
    console.log(`${res.statusCode === 200 ? 'ready' : 'not ready'}: ${url.href} answered ${res.statusCode}`);
    process.exit(res.statusCode === 200 ? 0 : 1);
  },
);
req.on('timeout', () => req.destroy(new Error('no answer within 5s')));
req.on('error', (err: NodeJS.ErrnoException) => {
  console.error(`not ready: ${url.href}: ${err.code ?? err.message}`);
  process.exit(1);
});
