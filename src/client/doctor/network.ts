/**
 * `sc doctor`'s checks of the way to the server: DNS, the upstream proxies (--proxy, --pac, --proxy-sauce), TCP
 * and TLS to the REST address, the credentials and the tunnel name. Each uses the module `sc run` uses for the
 * same step (dns.ts, dialer.ts, upstream.ts, pac.ts, rest-client.ts), so a pass here means that step of `sc run`
 * works from this machine. docs/doctor.md describes every check, its failures and their fixes.
 */
import dns from 'node:dns/promises';
import { isIP, type Socket } from 'node:net';
import tls from 'node:tls';
import { formatDuration } from '../../options/duration.js';
import type { DoctorOptions } from '../../options/parse.js';
import { connect } from '../egress/dialer.js';
import { dnsResolver } from '../egress/dns.js';
import { loadPacScript, PacEvaluator, parsePacResult } from '../egress/pac.js';
import { connectVia, proxyLabel, type UpstreamProxy } from '../egress/upstream.js';
import { ControlError, type RestClient } from '../supervisor/rest-client.js';
import { fail, ok, skip, type CheckResult } from './result.js';

/** The server as `sc run` reaches it: the REST URL's host and port. */
export interface ServerAddress {
  /** Host without brackets. */
  host: string;
  port: number;
  /** host:port as written in a URL. */
  label: string;
  origin: string;
}

export function serverAddress(restUrl: string): ServerAddress {
  const u = new URL(restUrl);
  const host = u.hostname.replace(/^\[|\]$/g, '');
  const port = u.port ? Number(u.port) : 443;
  return { host, port, label: `${u.hostname}:${port}`, origin: `https://${u.host}` };
}

/** Rejects with `code` after `ms` (0: never). */
export function within<T>(p: Promise<T>, ms: number, code: string, message: string): Promise<T> {
  if (ms <= 0) return p;
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(Object.assign(new Error(message), { code })), ms);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

const errCode = (err: unknown): string => (err as NodeJS.ErrnoException).code ?? '';
const errText = (err: unknown): string => (err as Error).message;

/** dns: the system resolver (what sc run uses for the server) resolves the REST URL's host. */
export async function checkDns(opts: DoctorOptions, s: ServerAddress): Promise<CheckResult> {
  if (isIP(s.host)) return skip('dns', `${s.host} is an IP address: nothing to resolve`);
  if (opts.proxySauce)
    return skip('dns', `${s.host} is resolved by the --proxy-sauce proxy, which sc connects through`);
  const wait = opts.dnsTimeout > 0 ? opts.dnsTimeout : 5000;
  try {
    const list = await within(
      dns.lookup(s.host, { all: true }),
      wait,
      'ETIMEOUT',
      `no answer within ${formatDuration(wait)}`,
    );
    return ok('dns', `${s.host} -> ${list.map((a) => a.address).join(', ')} (system resolver)`);
  } catch (err) {
    const code = errCode(err);
    const cause =
      code === 'ENOTFOUND'
        ? `the system resolver has no address for ${s.host} (ENOTFOUND)`
        : code === 'ETIMEOUT'
          ? `the system resolver gave no answer for ${s.host} within ${formatDuration(wait)}`
          : `the system resolver failed for ${s.host}: ${code || errText(err)}`;
    return fail(
      'dns',
      `cannot resolve ${s.host}`,
      cause,
      "check the host in --rest-url and this machine's resolver (/etc/resolv.conf, /etc/hosts); where only a proxy can resolve it, set --proxy-sauce",
    );
  }
}

/** A name worth a query: not an IP address, not localhost (dns.ts answers those without asking). */
function queryable(host: string): boolean {
  const h = host.toLowerCase().replace(/\.$/, '');
  return !isIP(h) && h !== 'localhost' && !h.endsWith('.localhost');
}

/**
 * dns-server: each --dns-server answers within --dns-timeout (dns.ts, as the dialer asks it), for the server's host,
 * or when that is an address or localhost, for the first --check-url host that is a name.
 */
export async function checkDnsServers(opts: DoctorOptions, s: ServerAddress): Promise<CheckResult[]> {
  if (opts.dnsServer.length === 0)
    return [skip('dns-server', '--dns-server not set: target names go to the system resolver')];
  const urlHosts = opts.checkUrl.map((u) => new URL(u).hostname.replace(/^\[|\]$/g, ''));
  const name = [s.host, ...urlHosts].find(queryable);
  const out: CheckResult[] = [];
  for (const server of opts.dnsServer) {
    const label = `dns-server ${server}`;
    if (!name) {
      out.push(
        skip(label, 'no host name to ask for: the server and every --check-url are addresses or localhost'),
      );
      continue;
    }
    const resolve = dnsResolver({ servers: [server], roundRobin: false, timeoutMs: opts.dnsTimeout });
    try {
      const list = await resolve(name);
      out.push(ok(label, `${name} -> ${list.map((a) => a.address).join(', ')}`));
    } catch (err) {
      const code = errCode(err);
      if (code === 'ENOTFOUND') {
        // The server answered: it works, it only does not know this name.
        out.push(
          ok(
            label,
            `answers; it has no address for ${name}${name === s.host ? ' (sc reaches the server through the system resolver; --dns-server serves the targets)' : ''}`,
          ),
        );
        continue;
      }
      const timedOut = code === 'ESC_DNS_TIMEOUT';
      out.push(
        fail(
          label,
          `cannot resolve ${name} through ${server}`,
          timedOut
            ? `DNS server ${server} did not answer within ${formatDuration(opts.dnsTimeout)} (--dns-timeout)`
            : `DNS server ${server} failed: ${errText(err)}`,
          'check --dns-server (address, port 53 or the one given, a firewall dropping UDP) or raise --dns-timeout',
        ),
      );
    }
  }
  return out;
}

/** What a failed CONNECT through an upstream proxy means, and what to change. */
function proxyFailure(
  flag: string,
  p: UpstreamProxy,
  target: string,
  err: unknown,
): { cause: string; fix: string } {
  const code = errCode(err);
  if (code === 'ESC_UPSTREAM_AUTH')
    return {
      cause: `the proxy ${proxyLabel(p)} refused the credentials (407 Proxy Authentication Required): ${errText(err)}`,
      fix: `give the proxy's user and password in the ${flag} URL (scheme://user:pass@host:port)`,
    };
  if (code === 'ESC_UPSTREAM_UNREACHABLE')
    return {
      cause: `the proxy ${proxyLabel(p)} cannot be reached: ${errText(err)}`,
      fix: `check the host and port of ${flag} and that the proxy runs`,
    };
  return {
    cause: `the proxy ${proxyLabel(p)} refused CONNECT to ${target}: ${errText(err)}`,
    fix: `ask the proxy's administrator to allow CONNECT to ${target}, or route it elsewhere`,
  };
}

/** CONNECT through `p` to host:port works. */
export async function checkConnect(
  name: string,
  flag: string,
  p: UpstreamProxy,
  host: string,
  port: number,
  opts: DoctorOptions,
  secureContext: tls.SecureContext,
): Promise<CheckResult> {
  const target = `${host.includes(':') ? `[${host}]` : host}:${port}`;
  try {
    const socket = await connectVia(p, host, port, { timeoutMs: opts.httpDialTimeout, secureContext });
    socket.destroy();
    return ok(name, `CONNECT ${target} through ${proxyLabel(p)}: established`);
  } catch (err) {
    const { cause, fix } = proxyFailure(flag, p, target, err);
    return fail(name, `CONNECT ${target} through ${proxyLabel(p)} failed`, cause, fix);
  }
}

/** pac: --pac loads, compiles, and FindProxyForURL answers for the server URL within its deadline. */
export async function checkPac(
  opts: DoctorOptions,
  s: ServerAddress,
  cwd: string,
): Promise<{ result: CheckResult; pac?: PacEvaluator }> {
  const shown = opts.pac.startsWith('data:') ? 'a data: URL' : opts.pac;
  let script: string;
  try {
    script = await loadPacScript(opts.pac, cwd);
  } catch (err) {
    return {
      result: fail(
        'pac',
        `cannot load --pac ${shown}`,
        errText(err),
        'check the --pac path or URL (file, http(s):// URL, data: URL or - for stdin)',
      ),
    };
  }
  let pac: PacEvaluator;
  try {
    pac = await PacEvaluator.start(script);
  } catch (err) {
    return {
      result: fail(
        'pac',
        `--pac ${shown} does not load`,
        errText(err),
        'fix the script: it must define FindProxyForURL(url, host)',
      ),
    };
  }
  const url = `${s.origin}/`;
  try {
    const answer = await pac.find(url, s.host);
    try {
      parsePacResult(answer);
    } catch (err) {
      return {
        result: fail(
          'pac',
          `FindProxyForURL("${url}") = "${answer}"`,
          errText(err),
          'return DIRECT or PROXY host:port entries',
        ),
        pac,
      };
    }
    return {
      result: ok('pac', `${shown} compiles; FindProxyForURL("${url}", "${s.host}") = "${answer}"`),
      pac,
    };
  } catch (err) {
    return {
      result: fail(
        'pac',
        `FindProxyForURL("${url}") failed`,
        errText(err),
        errCode(err) === 'ESC_PAC_TIMEOUT'
          ? 'the script loops or waits: make FindProxyForURL return promptly'
          : 'fix the script',
      ),
      pac,
    };
  }
}

/** server: a TCP connection to the REST address (through --proxy-sauce when set), as sc run's REST calls open. */
export async function openServer(
  opts: DoctorOptions,
  s: ServerAddress,
  proxySauce: UpstreamProxy | undefined,
  secureContext: tls.SecureContext,
): Promise<{ result: CheckResult; socket?: Socket }> {
  if (proxySauce) {
    try {
      const socket = await connectVia(proxySauce, s.host, s.port, {
        timeoutMs: opts.httpDialTimeout,
        secureContext,
      });
      return {
        result: ok('server', `${s.label} reached through --proxy-sauce ${proxyLabel(proxySauce)}`),
        socket,
      };
    } catch (err) {
      const { cause, fix } = proxyFailure('--proxy-sauce', proxySauce, s.label, err);
      return { result: fail('server', `cannot reach ${s.label} through --proxy-sauce`, cause, fix) };
    }
  }
  try {
    // The REST client's own dial: the system resolver, no localhost policy (the server may be local).
    const socket = await connect(
      { proxyLocalhost: 'allow', dialTimeoutMs: opts.httpDialTimeout, dialAttempts: 1, dialBackoffMs: 0 },
      s.host,
      s.port,
    );
    return {
      result: ok('server', `TCP connection to ${s.label} (${socket.remoteAddress ?? s.host}) established`),
      socket,
    };
  } catch (err) {
    const code = errCode(err);
    const cause =
      code === 'ECONNREFUSED'
        ? `nothing listens at ${s.label} (connection refused)`
        : code === 'ESC_DIAL_TIMEOUT' || code === 'ETIMEDOUT'
          ? `no answer from ${s.label} within ${formatDuration(opts.httpDialTimeout)} (--http-dial-timeout): a firewall may drop the packets`
          : code === 'ENOTFOUND' || code === 'EAI_AGAIN'
            ? `${s.host} does not resolve (see the dns check)`
            : `connecting to ${s.label} failed: ${code || errText(err)}`;
    return {
      result: fail(
        'server',
        `cannot reach ${s.label}`,
        cause,
        code === 'ECONNREFUSED'
          ? "check the port in --rest-url (sc-server's --rest-address, recorded in server.json) and that sc-server runs"
          : 'check --rest-url and the network path; where outbound traffic must use a proxy, set --proxy-sauce',
      ),
    };
  }
}

const UNTRUSTED = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_GET_ISSUER_CERT',
  'CERT_UNTRUSTED',
]);

const DAY = 86_400_000;

/** The certificate's names, issuer and expiry, as a short text. */
function describeCert(cert: tls.PeerCertificate): {
  names: string;
  issuer: string;
  until: string;
  days: number;
} {
  const names = (cert.subjectaltname ?? '')
    .split(',')
    .map((n) => n.trim().replace(/^(DNS|IP Address):/, ''))
    .filter(Boolean)
    .join(', ');
  const subjectCn = cert.subject?.CN;
  const issuerCn = cert.issuer?.CN;
  const until = new Date(cert.valid_to);
  return {
    names: names || (typeof subjectCn === 'string' ? subjectCn : '(none)'),
    issuer: typeof issuerCn === 'string' ? issuerCn : '(unnamed issuer)',
    until: Number.isNaN(until.getTime()) ? cert.valid_to : until.toISOString().slice(0, 10),
    days: Math.floor((until.getTime() - Date.now()) / DAY),
  };
}

/**
 * tls: the handshake on that connection, verified as sc run verifies it (system roots plus --cacert-file, the
 * host name of --rest-url). The certificate is read even when it fails, to say why.
 */
export async function checkTls(
  opts: DoctorOptions,
  s: ServerAddress,
  raw: Socket,
  secureContext: tls.SecureContext,
): Promise<CheckResult> {
  const wait = opts.httpTlsHandshakeTimeout > 0 ? opts.httpTlsHandshakeTimeout : 10_000;
  const socket = tls.connect({
    socket: raw,
    servername: isIP(s.host) ? undefined : s.host,
    secureContext,
    minVersion: 'TLSv1.2',
    rejectUnauthorized: false,
  });
  try {
    await within(
      new Promise<void>((resolve, reject) => {
        socket.once('secureConnect', resolve);
        socket.once('error', reject);
      }),
      wait,
      'ETIMEDOUT',
      `no TLS answer within ${formatDuration(wait)} (--http-tls-handshake-timeout)`,
    );
  } catch (err) {
    socket.destroy();
    return fail(
      'tls',
      `TLS handshake with ${s.label} failed`,
      errText(err),
      "check that --rest-url names sc-server's REST address (it speaks HTTPS only) and that nothing between intercepts TLS",
    );
  }
  const cert = socket.getPeerCertificate();
  const authError = socket.authorizationError as unknown as Error | string | null;
  const version = socket.getProtocol() ?? 'TLS';
  socket.destroy();
  const c = describeCert(cert);
  const about = `certificate for ${c.names}, issued by "${c.issuer}", valid until ${c.until}`;
  const code = authError
    ? typeof authError === 'string'
      ? authError
      : errCode(authError) || authError.message
    : '';
  if (code === 'CERT_HAS_EXPIRED')
    return fail(
      'tls',
      `${s.label}: ${about}`,
      `the server's certificate expired on ${c.until}`,
      "renew the certificate of sc-server (--tls-cert, or restart it to reissue its own) or fix this machine's clock",
    );
  if (code === 'CERT_NOT_YET_VALID')
    return fail(
      'tls',
      `${s.label}: ${about}`,
      "the server's certificate is not valid yet",
      "check this machine's clock and the server's",
    );
  if (code && UNTRUSTED.has(code))
    return fail(
      'tls',
      `${s.label}: ${about}`,
      `the certificate is not signed by a CA this machine trusts (${code}; trusted: system roots${opts.cacertFile.length ? ' and --cacert-file' : ''})`,
      "add the server's CA (ca.pem in sc-server's data directory) with --cacert-file or SAUCE_CACERT_FILE",
    );
  if (code)
    return fail(
      'tls',
      `${s.label}: ${about}`,
      `the certificate was refused: ${code}`,
      "check the server's certificate chain",
    );
  const mismatch = tls.checkServerIdentity(s.host, cert);
  if (mismatch)
    return fail(
      'tls',
      `${s.label}: ${about}`,
      `the certificate's names (${c.names}) do not include ${s.host}`,
      'use a host name of the certificate in --rest-url, or start sc-server with --public-host set to the name clients use',
    );
  const soon =
    c.days < 14 ? ` (expires in ${Math.max(0, c.days)} days: renew it soon)` : ` (${c.days} days left)`;
  return ok('tls', `${version} to ${s.label}, verified: ${about}${soon}`);
}

/** credentials: a REST call that needs them (this user's tunnel list). */
export async function checkCredentials(
  opts: DoctorOptions,
  rest: RestClient,
): Promise<{ result: CheckResult; tunnels?: Record<string, unknown>[] }> {
  try {
    const tunnels = await rest.listTunnels();
    return {
      result: ok(
        'credentials',
        `user "${opts.username}" accepted (${tunnels.length} running tunnel${tunnels.length === 1 ? '' : 's'})`,
      ),
      tunnels,
    };
  } catch (err) {
    const status = err instanceof ControlError ? err.status : 0;
    if (status === 401)
      return {
        result: fail(
          'credentials',
          `the server refused user "${opts.username}" (401)`,
          'the username and access key do not match an enabled account on this server',
          'check --username and --access-key (or SAUCE_USERNAME / SAUCE_ACCESS_KEY, the config file); an admin can rotate the key with "sc-server admin"',
        ),
      };
    if (status === 403)
      return {
        result: fail(
          'credentials',
          `the server refused user "${opts.username}" (403)`,
          errText(err),
          'ask an admin of the server whether the account may create tunnels',
        ),
      };
    return {
      result: fail(
        'credentials',
        'the REST call failed',
        errText(err),
        status >= 500 || status === 429
          ? 'retry later; if it stays, read the log of sc-server'
          : 'check --rest-url',
      ),
    };
  }
}

/** tunnel: the name, and what sc run would do to a running tunnel of the same name (replace it or join its pool). */
export function checkTunnelName(
  opts: DoctorOptions,
  tunnels: readonly Record<string, unknown>[],
): CheckResult {
  const name = opts.tunnelName;
  const same = tunnels.filter((t) => t['tunnel_identifier'] === name && t['status'] === 'running');
  if (same.length === 0)
    return ok(
      'tunnel',
      `"${name}" is free: sc run creates it${opts.tunnelPool ? ' as the first member of a pool' : ''}`,
    );
  const pool = same.filter((t) => t['tunnel_pool'] === true);
  const replaced = same.filter((t) => !(opts.tunnelPool && t['tunnel_pool'] === true));
  const ids = (list: readonly Record<string, unknown>[]): string =>
    list
      .map((t) => {
        const id = typeof t['id'] === 'string' ? t['id'] : '?';
        return typeof t['host'] === 'string' && t['host'] ? `${id} on ${t['host']}` : id;
      })
      .join(', ');
  const parts: string[] = [];
  if (opts.tunnelPool && pool.length) parts.push(`joins the pool of ${pool.length} running (${ids(pool)})`);
  if (replaced.length)
    parts.push(
      `replaces ${replaced.length} running tunnel${replaced.length === 1 ? '' : 's'} (${ids(replaced)}), which stop with reason "replaced"`,
    );
  return ok('tunnel', `"${name}" is running already: sc run ${parts.join(' and ')}`);
}
