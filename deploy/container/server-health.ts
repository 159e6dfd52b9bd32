// HEALTHCHECK of the sc-server image: GET /readyz on the server's own REST listener, over loopback when it listens
// on all interfaces, verifying its certificate for the public host against the CA in the data directory (both read
// from DIR/server.json, which sc-server writes once it listens). Exit 0 healthy, else 1.
import { readFileSync } from 'node:fs';
import https from 'node:https';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { checkServerIdentity } from 'node:tls';

const dir = process.env['SC_DATA_DIR'] || '/var/lib/sluice';
let info: { rest_url: string; ca_cert: string };
try {
  info = JSON.parse(readFileSync(join(dir, 'server.json'), 'utf8'));
} catch (err) {
  const e = err as NodeJS.ErrnoException;
  console.error(`not ready: no server.json in ${dir} yet (${e.code ?? e.message})`);
  process.exit(1);
}
const url = new URL('/readyz', info.rest_url);
// The public host may not resolve inside the container: dial the listen address (loopback for a wildcard).
const listen = /^\[?([^\]]*)\]?:\d+$/.exec(process.env['SC_REST_ADDRESS'] ?? '')?.[1] ?? '';
const host = ['', '0.0.0.0', '::'].includes(listen) ? '127.0.0.1' : listen;
const req = https.get(
  {
    host,
    port: url.port || 443,
    path: url.pathname,
    ca: readFileSync(info.ca_cert),
    ...(isIP(url.hostname) ? {} : { servername: url.hostname }),
    checkServerIdentity: (_host, cert) => checkServerIdentity(url.hostname, cert),
    timeout: 5000,
    agent: false,
  },
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
