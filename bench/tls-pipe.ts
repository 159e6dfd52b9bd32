/**
 * The floor anchor's process (anchors/tls-pipe.ts): a bare TLS relay in Node, nothing else. `--mode front`
 * listens in plain TCP and dials the back over TLS; `--mode back` listens with TLS and dials the target in plain
 * TCP. One TLS connection per client connection: no multiplexing, no HTTP, no authentication, no metrics. What
 * a tunnel built of two Node processes costs at least. Prints {"port":N} when listening.
 */
import { readFileSync } from 'node:fs';
import net, { type AddressInfo } from 'node:net';
import tls from 'node:tls';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    mode: { type: 'string' },
    target: { type: 'string' },
    host: { type: 'string', default: '127.0.0.1' },
    cert: { type: 'string' },
    key: { type: 'string' },
    ca: { type: 'string' },
  },
});
const [targetHost, targetPort] = (values.target ?? '').split(':');
if (!targetHost || !targetPort || (values.mode !== 'front' && values.mode !== 'back'))
  throw new Error('usage: tls-pipe --mode front|back --target HOST:PORT [--cert --key | --ca] ');

function join(a: net.Socket, b: net.Socket): void {
  a.pipe(b);
  b.pipe(a);
  a.on('error', () => b.destroy());
  b.on('error', () => a.destroy());
  a.on('close', () => b.destroy());
  b.on('close', () => a.destroy());
}

const dial = (): net.Socket =>
  values.mode === 'front'
    ? tls.connect({
        host: targetHost,
        port: Number(targetPort),
        ca: readFileSync(values.ca!),
        servername: 'localhost',
      })
    : net.connect(Number(targetPort), targetHost);
const onConnection = (s: net.Socket): void => join(s, dial());
const server =
  values.mode === 'back'
    ? tls.createServer({ cert: readFileSync(values.cert!), key: readFileSync(values.key!) }, onConnection)
    : net.createServer(onConnection);
server.listen(0, values.host, () => {
  process.stdout.write(`${JSON.stringify({ port: (server.address() as AddressInfo).port })}\n`);
});
process.on('SIGTERM', () => process.exit(0));
