/**
 * Process entry for the localtunnel client (npm `localtunnel`), so it gets its own process like every other
 * tunnel client. Prints "READY <url>" once the server has assigned the tunnel.
 */
import { createRequire } from 'node:module';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: { server: { type: 'string' }, port: { type: 'string' }, subdomain: { type: 'string' } },
});
const localtunnel = createRequire(import.meta.url)('localtunnel') as (opts: object) => Promise<{
  url: string;
  on(event: 'error', fn: (err: Error) => void): void;
  close(): void;
}>;
const tunnel = await localtunnel({
  host: values.server,
  port: Number(values.port),
  subdomain: values.subdomain,
  // No local_host: with it the client rewrites every request's Host header in a transform stream, which a
  // user who runs `lt --port N` against localhost does not pay (localhost is 127.0.0.1 here).
});
tunnel.on('error', (err) => process.stderr.write(`localtunnel: ${err.message}\n`));
process.stdout.write(`READY ${tunnel.url}\n`);
process.on('SIGTERM', () => {
  tunnel.close();
  process.exit(0);
});
