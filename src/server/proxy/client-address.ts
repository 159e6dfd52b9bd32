/**
 * Which address a request comes from, for per-source limits. Directly connected clients are their socket's
 * peer. Behind a trusted load balancer (sc-server --trusted-proxies) every connection comes from the balancer,
 * so the client is the right-most X-Forwarded-For entry that is not itself a trusted proxy: entries further left
 * were written by the client and prove nothing. PROXY protocol is not read (docs/security.md says why).
 */
import { isIP } from 'node:net';

/** `::ffff:127.0.0.1` -> `127.0.0.1`, so IPv4 clients of a dual-stack listener match IPv4 entries. */
export function normalizeIp(ip: string): string {
  return ip.startsWith('::ffff:') && isIP(ip.slice(7)) === 4 ? ip.slice(7) : ip;
}

export function clientAddress(
  remote: string | undefined,
  forwardedFor: string | string[] | undefined,
  trusted: ReadonlySet<string>,
): string {
  let ip = normalizeIp(remote ?? '');
  if (!trusted.has(ip) || forwardedFor === undefined) return ip;
  const hops = (Array.isArray(forwardedFor) ? forwardedFor.join(',') : forwardedFor)
    .split(',')
    .map((h) => h.trim());
  while (trusted.has(ip) && hops.length > 0) {
    const hop = normalizeIp(hops.pop()!);
    if (!isIP(hop)) break; // a malformed entry: stop at the last address we can vouch for
    ip = hop;
  }
  return ip;
}
