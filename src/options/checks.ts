/**
 * Syntax checks for option values. Each returns an error text (the parser adds the flag and its source) or
 * undefined. They check form only: whether a host answers is the client's business at run time.
 */
import { existsSync, statSync, readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { resolve } from 'node:path';

const HOST =
  /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

function validHost(host: string): boolean {
  if (host.startsWith('[') && host.endsWith(']')) return isIP(host.slice(1, -1)) === 6;
  return isIP(host) === 4 || HOST.test(host);
}

function validPort(port: string, allowZero: boolean): boolean {
  if (!/^\d{1,5}$/.test(port)) return false;
  const n = Number(port);
  return n <= 65535 && (allowZero || n > 0);
}

/** `host:port`, `[::1]:port`; an empty host means all interfaces; port 0 picks a free port. */
export function hostPort(value: string): string | undefined {
  const i = value.lastIndexOf(':');
  if (i < 0) return 'expected host:port (for example 127.0.0.1:8032 or :8032)';
  const host = value.slice(0, i);
  if (host !== '' && !validHost(host)) return `invalid host "${host}"`;
  if (!validPort(value.slice(i + 1), true)) return `invalid port "${value.slice(i + 1)}"`;
  return undefined;
}

/** A literal IPv4 or IPv6 address (no port, no name). */
export function ipAddress(value: string): string | undefined {
  return isIP(value) ? undefined : `"${value}" is not an IP address`;
}

/** The name clients use for the server: a host name or IP address (no port). */
export function publicHost(value: string): string | undefined {
  const host = value.startsWith('[') ? value : value.includes(':') ? `[${value}]` : value;
  return validHost(host) ? undefined : 'expected a host name or IP address, without port';
}

/** `[scheme://][user:pass@]host:port` with scheme http, https or socks5. */
export function proxyUrl(value: string): string | undefined {
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(value) ? value : `http://${value}`;
  let u: URL;
  try {
    u = new URL(withScheme);
  } catch {
    return 'expected [scheme://][user:pass@]host:port';
  }
  if (!['http:', 'https:', 'socks5:', 'socks:'].includes(u.protocol))
    return `unsupported scheme "${u.protocol.slice(0, -1)}": use http, https or socks5`;
  if (!u.hostname) return 'missing host';
  if ((u.pathname !== '' && u.pathname !== '/') || u.search) return 'a proxy address has no path or query';
  return undefined;
}

/** An http(s) URL (PAC sources). */
export function httpUrl(value: string): string | undefined {
  try {
    const u = new URL(value);
    if (u.protocol !== 'https:' && u.protocol !== 'http:') return 'expected an http:// or https:// URL';
    return undefined;
  } catch {
    return 'expected a URL like https://sc.example.com/rest/v1';
  }
}

/** The sc-server REST URL: https, path ending in /rest/v1 (what `sc-server start` logs and writes to server.json). */
export function restUrl(value: string): string | undefined {
  let u: URL;
  try {
    u = new URL(value);
  } catch {
    return 'expected a URL like https://sc.example.com/rest/v1';
  }
  if (u.protocol === 'http:')
    return `sc-server's REST API is HTTPS only: use https://${u.host}${u.pathname === '/' ? '/rest/v1' : u.pathname}`;
  if (u.protocol !== 'https:') return 'expected an https:// URL like https://sc.example.com/rest/v1';
  if (!/\/rest\/v1\/?$/.test(u.pathname)) {
    const base = u.pathname.replace(/\/+$/, '');
    return `the path must end in /rest/v1 (the server answers 404 elsewhere): use https://${u.host}${base}/rest/v1`;
  }
  if (u.search || u.hash) return 'a REST URL has no query or fragment';
  return undefined;
}

/**
 * A domain rule: a regular expression on the host name, `-` prefix to exclude, or the keyword `all`. The server compiles rules with RE2 (src/server/routing/domain-rules.ts) and refuses the create
 * body naming a rule RE2 rejects; sc (which carries no RE2) checks the form here.
 */
export function domainRule(value: string): string | undefined {
  if (/\s/.test(value)) return 'domain rules contain no spaces';
  const re = value.startsWith('-') ? value.slice(1) : value;
  if (re === '') return 'empty domain rule';
  if (re === 'all') return undefined;
  if (re.startsWith('*')) return `"${re}" is not a regular expression: write .*\\. instead of *.`;
  try {
    new RegExp(re);
    return undefined;
  } catch (err) {
    return `invalid regular expression: ${(err as Error).message}`;
  }
}

/** A network for sc-server --direct-allow-networks: address/prefix or a bare address. */
export function network(value: string): string | undefined {
  const [addr = '', len] = value.split('/');
  const type = isIP(addr);
  const max = type === 4 ? 32 : 128;
  if (!type || (len !== undefined && (!/^\d{1,3}$/.test(len) || Number(len) > max))) {
    return `"${value}" is not a network (address/prefix, e.g. 127.0.0.1/32)`;
  }
  return undefined;
}

function dataUrl(value: string): string | undefined {
  const m = /^data:(?:[^,;]*)(;base64)?,(.*)$/s.exec(value);
  if (!m) return 'expected data:base64,<base64 text>';
  if (m[1] && !/^[A-Za-z0-9+/=\s]*$/.test(m[2]!)) return 'invalid base64 after data:...;base64,';
  return undefined;
}

/** A PAC source: path, file://, http(s):// URL, data: URL or `-` (stdin). */
export function pacSource(value: string): string | undefined {
  if (value === '-') return undefined;
  if (value.startsWith('data:')) return dataUrl(value);
  if (/^https?:\/\//.test(value)) return httpUrl(value);
  return undefined;
}

/** `--cacert-file`: a PEM file that exists, or a data:base64,... value. */
export function caCert(value: string, cwd: string): string | undefined {
  let pem: string;
  if (value.startsWith('data:')) {
    const bad = dataUrl(value);
    if (bad) return bad;
    pem = Buffer.from(value.slice(value.indexOf(',') + 1), 'base64').toString('utf8');
  } else {
    const path = resolve(cwd, value);
    if (!existsSync(path)) return `file ${path} does not exist`;
    if (!statSync(path).isFile()) return `${path} is not a file`;
    try {
      pem = readFileSync(path, 'utf8');
    } catch (err) {
      return `cannot read ${path}: ${(err as Error).message}`;
    }
  }
  return pem.includes('-----BEGIN CERTIFICATE-----') ? undefined : 'no PEM certificate found';
}

/** `user[:pass]@host:port`, `*` allowed for host and port. */
export function siteCredentials(value: string): string | undefined {
  const at = value.lastIndexOf('@');
  if (at < 1) return 'expected user[:pass]@host:port';
  const target = value.slice(at + 1);
  const i = target.lastIndexOf(':');
  if (i < 0) return 'expected user[:pass]@host:port';
  const host = target.slice(0, i);
  const port = target.slice(i + 1);
  if (host !== '*' && !validHost(host)) return `invalid host "${host}"`;
  if (port !== '*' && !validPort(port, false)) return `invalid port "${port}"`;
  return undefined;
}

/** `Name: value` (add), `Name;` (empty), `-Name` (remove), `-Prefix*` (remove by prefix). */
export function headerRule(value: string): string | undefined {
  if (/[\r\n\0]/.test(value)) return 'a header rule may not hold CR, LF or NUL';
  const name = /^-?([A-Za-z0-9-]+)\*?$|^([A-Za-z0-9-]+)(?::.*|;)$/s.exec(value);
  return name ? undefined : 'expected "Name: value", "Name;", "-Name" or "-Prefix*"';
}

/** `ip[:port]` of a DNS server. */
export function dnsServer(value: string): string | undefined {
  if (isIP(value)) return undefined;
  const m = /^(\[[^\]]+\]|[^:]+):(\d+)$/.exec(value);
  if (!m) return 'expected ip[:port]';
  const ip = m[1]!.replace(/^\[|\]$/g, '');
  if (!isIP(ip)) return `"${ip}" is not an IP address`;
  return validPort(m[2]!, false) ? undefined : `invalid port "${m[2]}"`;
}

/** `user[:pass]` for the local API. */
export function basicAuth(value: string): string | undefined {
  if (!value.split(':')[0]) return 'expected user[:password]';
  try {
    decodeURIComponent(value);
    return undefined;
  } catch {
    return 'invalid %-escape (the value is URL-decoded: write %25 for a literal %)';
  }
}

/** Tunnel names travel in proxy usernames and capabilities: printable ASCII only. */
export function tunnelName(value: string): string | undefined {
  if (value.length > 255) return 'at most 255 characters';
  return /^[\x21-\x7e][\x20-\x7e]*$/.test(value) ? undefined : 'must be printable ASCII';
}

/** Kerberos hosts are exact names: SC5 refuses wildcards there. */
export function exactHost(value: string): string | undefined {
  return validHost(value) ? undefined : `"${value}" is not a host name (no wildcards)`;
}

export const LOG_HTTP_MODULES = ['api', 'proxy', 'control'] as const;
export const LOG_HTTP_MODES = ['none', 'short-url', 'url', 'headers', 'body', 'errors'] as const;

/** `[api|proxy|control:]mode`. */
export function logHttpRule(value: string): string | undefined {
  const [a, b] = value.split(':', 2) as [string, string | undefined];
  const mode = b ?? a;
  if (b !== undefined && !(LOG_HTTP_MODULES as readonly string[]).includes(a))
    return `unknown module "${a}": use ${LOG_HTTP_MODULES.join(', ')}`;
  if (!(LOG_HTTP_MODES as readonly string[]).includes(mode))
    return `unknown mode "${mode}": use ${LOG_HTTP_MODES.join(', ')}`;
  return undefined;
}

// Redaction: keep enough to recognise the value, drop the secret part.

/** Masks the password of a URL-ish `[scheme://]user:pass@host`. */
export function maskUserinfo(value: string): string {
  return value.replace(/^((?:[a-z][a-z0-9+.-]*:\/\/)?[^:@/]*:)[^@]*@/i, '$1****@');
}

/** `user:pass@host:port` -> `user:****@host:port`. */
export function maskSiteCredentials(value: string): string {
  const at = value.lastIndexOf('@');
  if (at < 0) return '****';
  const user = value.slice(0, at).split(':')[0];
  return `${user}:****${value.slice(at)}`;
}

/** `user:pass` -> `user:****`. */
export function maskBasicAuth(value: string): string {
  return value ? `${value.split(':')[0]}:****` : '';
}

/** `Name: value` -> `Name: ****` (header values often carry tokens). */
export function maskHeader(value: string): string {
  const i = value.indexOf(':');
  return i < 0 ? value : `${value.slice(0, i)}: ****`;
}

/** The gateway's proxy ports: a count N (1-4096) or a range FROM-TO of at most 4096 ports within 1-65535. */
export function portSpec(value: string): string | undefined {
  const range = /^(\d{1,5})-(\d{1,5})$/.exec(value);
  if (range) {
    const from = Number(range[1]);
    const to = Number(range[2]);
    if (from < 1 || to > 65535 || to < from || to - from >= 4096)
      return 'expected FROM-TO within 1-65535, at most 4096 ports';
    return undefined;
  }
  if (/^\d{1,4}$/.test(value) && Number(value) >= 1 && Number(value) <= 4096) return undefined;
  return 'expected a port count (1-4096) or a range FROM-TO';
}

/** A base64 SHA-256 hash (44 characters), as Chrome's --ignore-certificate-errors-spki-list takes. */
export function spkiHash(value: string): string | undefined {
  return /^[A-Za-z0-9+/]{43}=$/.test(value) ? undefined : 'expected a base64 SHA-256 hash (44 characters)';
}
