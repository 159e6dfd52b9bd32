/**
 * `--dns-server ip[:port]` (repeatable), `--dns-round-robin`, `--dns-timeout`: how sc's dialer resolves target
 * names when DNS servers are given (without them, the system resolver: dns.lookup, /etc/hosts included).
 *
 * Servers are asked in the order given; the next one is asked only when one fails to answer (timeout, refused,
 * server failure), never when it answers "no such name". With --dns-round-robin each lookup starts at the next
 * server in turn. IP literals need no lookup; `localhost` and `*.localhost` resolve to loopback without a query
 * (RFC 6761), so --proxy-localhost keeps its meaning.
 *
 * A name that does not exist fails with ENOTFOUND (dns_failed, 502); every server timing out fails with
 * ESC_DNS_TIMEOUT (dns_timeout, 504).
 */
import { Resolver } from 'node:dns/promises';
import type { LookupAddress } from 'node:dns';
import { isIP } from 'node:net';

export interface DnsConfig {
  /** `ip` or `ip:port` / `[v6]:port` entries as given to --dns-server. */
  servers: readonly string[];
  roundRobin: boolean;
  /** --dns-timeout: one query's timeout (0: the resolver library's default). */
  timeoutMs: number;
}

/** Resolves a target name to its addresses. */
export type Resolve = (host: string) => Promise<LookupAddress[]>;

/** Answers meaning "this server could not answer": ask the next one. */
const TRY_NEXT = new Set(['ETIMEOUT', 'ECONNREFUSED', 'ESERVFAIL', 'EREFUSED', 'EBADRESP']);

/** `ip[:port]` to the form Resolver.setServers takes (`ip`, `ip:port`, `[v6]:port`). */
function serverEntry(s: string): string {
  if (isIP(s) === 6) return `[${s}]:53`;
  if (isIP(s) === 4) return `${s}:53`;
  return s;
}

export function dnsResolver(cfg: DnsConfig): Resolve {
  const resolvers = cfg.servers.map((s) => {
    const r = new Resolver({ timeout: cfg.timeoutMs > 0 ? cfg.timeoutMs : -1, tries: 1 });
    r.setServers([serverEntry(s)]);
    return r;
  });
  let next = 0;

  const query = async (r: Resolver, host: string): Promise<LookupAddress[]> => {
    const out: LookupAddress[] = [];
    let err: Error | undefined;
    for (const family of [4, 6] as const) {
      try {
        const list = family === 4 ? await r.resolve4(host) : await r.resolve6(host);
        for (const address of list) out.push({ address, family });
        if (out.length) return out;
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'ENODATA') continue; // the name exists, but not for this family
        err = e as Error;
        if (code === 'ENOTFOUND') break; // no such name: no other family either
        throw e;
      }
    }
    if (out.length) return out;
    throw err ?? Object.assign(new Error(`no address for ${host}`), { code: 'ENOTFOUND' });
  };

  return async (host: string) => {
    const h = host.replace(/^\[|\]$/g, '');
    const fam = isIP(h);
    if (fam) return [{ address: h, family: fam }];
    const l = h.toLowerCase().replace(/\.$/, '');
    if (l === 'localhost' || l.endsWith('.localhost')) return [{ address: '127.0.0.1', family: 4 }];
    const start = cfg.roundRobin ? next++ % resolvers.length : 0;
    let timedOut = false;
    let last: unknown;
    for (let i = 0; i < resolvers.length; i++) {
      try {
        return await query(resolvers[(start + i) % resolvers.length]!, h);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code ?? '';
        if (!TRY_NEXT.has(code)) {
          throw Object.assign(new Error(`${host} did not resolve (${code || 'error'})`), {
            code: code === 'ENOTFOUND' ? 'ENOTFOUND' : 'EAI_AGAIN',
          });
        }
        if (code === 'ETIMEOUT') timedOut = true;
        last = e;
      }
    }
    const code = (last as NodeJS.ErrnoException | undefined)?.code ?? 'error';
    throw Object.assign(new Error(`no DNS server answered for ${host} (${code})`), {
      code: timedOut ? 'ESC_DNS_TIMEOUT' : 'EAI_AGAIN',
    });
  };
}
