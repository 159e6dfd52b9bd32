/**
 * `--auth user[:pass]@host:port` (repeatable, `*` for host and/or port): Basic credentials by target, for sites
 * (injected into requests that carry no Authorization) and for upstream proxies (Proxy-Authorization). The lookup
 * order is SC5's: exact `host:port`, then `*:port`, then `host:*`, then `*:*`. Host names compare without case.
 *
 * The password never leaves this module except inside the header value: toString() and the option's mask
 * (options/checks.ts maskSiteCredentials) show `user:****@host:port`.
 */

export interface SiteCredential {
  user: string;
  pass: string;
}

/** Parses one `user[:pass]@host:port` (options/checks.ts siteCredentials has already vetted the syntax). */
function parseOne(value: string): { key: string; cred: SiteCredential } {
  const at = value.lastIndexOf('@');
  if (at < 1) throw new Error('expected user[:pass]@host:port');
  const userinfo = value.slice(0, at);
  const target = value.slice(at + 1);
  const i = target.lastIndexOf(':');
  if (i < 0) throw new Error('expected user[:pass]@host:port');
  const host = target
    .slice(0, i)
    .replace(/^\[|\]$/g, '')
    .toLowerCase();
  const port = target.slice(i + 1);
  const c = userinfo.indexOf(':');
  const user = c < 0 ? userinfo : userinfo.slice(0, c);
  const pass = c < 0 ? '' : userinfo.slice(c + 1);
  return { key: `${host}:${port}`, cred: { user, pass } };
}

export class SiteAuth {
  private readonly byKey = new Map<string, SiteCredential>();

  /** `values` as given to --auth; for the same host:port the first entry wins. */
  constructor(values: readonly string[]) {
    for (const v of values) {
      const { key, cred } = parseOne(v);
      if (!this.byKey.has(key)) this.byKey.set(key, cred);
    }
  }

  get size(): number {
    return this.byKey.size;
  }

  /** The credentials for `host` (no brackets) and `port`, in SC5's order, or undefined. */
  match(host: string, port: number): SiteCredential | undefined {
    const h = host.replace(/^\[|\]$/g, '').toLowerCase();
    const m = this.byKey;
    return m.get(`${h}:${port}`) ?? m.get(`*:${port}`) ?? m.get(`${h}:*`) ?? m.get('*:*');
  }

  /** A `Basic ...` header value for the target, or undefined when no entry matches. */
  basic(host: string, port: number): string | undefined {
    const c = this.match(host, port);
    return c ? basicValue(c) : undefined;
  }

  toString(): string {
    return [...this.byKey].map(([k, c]) => `${c.user}:****@${k}`).join(',');
  }
}

export function basicValue(c: SiteCredential): string {
  return `Basic ${Buffer.from(`${c.user}:${c.pass}`, 'utf8').toString('base64')}`;
}
