/**
 * sc's own request rules and debugging aids, built from the `sc run` options: --auth and --header as the
 * pipeline's RequestRules, --dns-* as the dialer's resolver, the --http-tls-keylog-file writer, and the
 * --debug-address listener (docs/egress.md).
 */
import fs from 'node:fs';
import net from 'node:net';
import type { Logger } from '../../observability/log.js';
import { dnsResolver, type Resolve } from './dns.js';
import type { Egress } from './egress.js';
import { HeaderRules } from './header-rules.js';
import type { RequestRules } from './pipeline.js';
import { SiteAuth } from './site-auth.js';
import type { ProxyCredentials } from './upstream.js';

/**
 * --auth (sites), --header and --kerberos-enabled-hosts as pipeline hooks, or undefined when none is set.
 * `kerberos`: the enabled hosts (exact names, any port) and the SPNEGO header maker (kerberos.ts).
 */
export function requestRules(
  auth: readonly string[],
  header: readonly string[],
  kerberos?: { hosts: readonly string[]; header: (host: string) => Promise<string> },
): RequestRules | undefined {
  const site = new SiteAuth(auth);
  const headers = new HeaderRules(header);
  const krbHosts = new Set(kerberos?.hosts.map((h) => h.toLowerCase()));
  if (site.size === 0 && headers.size === 0 && krbHosts.size === 0) return undefined;
  const rules: RequestRules = {};
  if (site.size > 0) rules.authorization = (t) => site.basic(t.host, t.port);
  if (headers.size > 0) rules.headers = (fields) => headers.apply(fields);
  if (kerberos && krbHosts.size > 0)
    rules.negotiate = (t) => (krbHosts.has(t.host.toLowerCase()) ? kerberos.header(t.host) : undefined);
  return rules;
}

/**
 * --auth as credentials for upstream proxies (--proxy, PAC results) whose URL carries none: the entry for the
 * proxy's host:port, in SC5's order (exact, `*:port`, `host:*`, `*:*`). Undefined when --auth is not set.
 */
export function proxyCredentials(auth: readonly string[]): ProxyCredentials | undefined {
  const site = new SiteAuth(auth);
  if (site.size === 0) return undefined;
  return (proxy) => {
    const c = site.match(proxy.host, proxy.port);
    return c ? { username: c.user, password: c.pass } : undefined;
  };
}

/** The dialer's resolver for --dns-server (undefined: the system resolver). */
export function targetResolver(
  servers: readonly string[],
  roundRobin: boolean,
  timeoutMs: number,
): Resolve | undefined {
  return servers.length ? dnsResolver({ servers, roundRobin, timeoutMs }) : undefined;
}

/**
 * Opens the NSS key log file (appending, mode 0600) and returns the line writer for TLS sockets' `keylog` events.
 * Throws an Error naming the flag when the file cannot be opened.
 */
export function openKeylog(path: string): (line: Buffer) => void {
  let fd: number;
  try {
    fd = fs.openSync(path, 'a', 0o600);
  } catch (err) {
    throw new Error(
      `--http-tls-keylog-file: cannot open "${path}": ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
      { cause: err },
    );
  }
  return (line) => {
    try {
      fs.writeSync(fd, line);
    } catch {
      // a full disk must not break the connection the keys belong to
    }
  };
}

/** `host:port` of --debug-address; an empty host means loopback (127.0.0.1). */
export function debugListenAddress(value: string): { host: string; port: number } {
  const i = value.lastIndexOf(':');
  const host = value.slice(0, i).replace(/^\[|\]$/g, '') || '127.0.0.1';
  return { host, port: Number(value.slice(i + 1)) };
}

/** Starts the --debug-address listener: sc's egress as a local plain-HTTP proxy. Resolves once listening. */
export async function startDebugProxy(value: string, egress: Egress, log: Logger): Promise<net.Server> {
  const { host, port } = debugListenAddress(value);
  const server = net.createServer((socket) => egress.serveDebug(socket));
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(new Error(`--debug-address: cannot listen on ${value}: ${err.code ?? err.message}`)),
    );
    server.listen(port, host, () => resolve());
  });
  server.on('error', (err) => log.error('debug proxy failed', { error: err.message }));
  const a = server.address() as net.AddressInfo;
  const shown = a.family === 'IPv6' ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`;
  log.info('debug proxy listening', { address: shown });
  return server;
}
