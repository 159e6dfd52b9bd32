/**
 * Proxy credentials name the account and the tunnel, so any client that can set a proxy user and password
 * (curl -x, Playwright's proxy option, Selenium's proxy capability) can pick a tunnel without custom headers:
 *
 *   Proxy-Authorization: Basic base64("<user>;tunnel=<name>[;owner=<owner>]:<access key>")
 *
 * Values may be percent-encoded (curl decodes the URL's userinfo; other clients pass it through).
 */

export interface ProxyCredentials {
  username: string;
  accessKey: string;
  tunnelName: string | null;
  tunnelOwner: string | null;
}

function decode(v: string): string {
  try {
    return decodeURIComponent(v);
  } catch {
    return v;
  }
}

/** Parses a Proxy-Authorization header; null when it is missing or not Basic. Throws on a malformed user part. */
export function parseProxyAuthorization(header: string | undefined): ProxyCredentials | null {
  const m = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header ?? '');
  if (!m) return null;
  const plain = Buffer.from(m[1]!, 'base64').toString('utf8');
  const colon = plain.indexOf(':');
  if (colon < 0) return null;
  const [user, ...params] = plain.slice(0, colon).split(';');
  const creds: ProxyCredentials = {
    username: decode(user ?? ''),
    accessKey: decode(plain.slice(colon + 1)),
    tunnelName: null,
    tunnelOwner: null,
  };
  for (const p of params) {
    const eq = p.indexOf('=');
    const key = (eq < 0 ? p : p.slice(0, eq)).trim().toLowerCase();
    const value = decode(eq < 0 ? '' : p.slice(eq + 1));
    if ((key === 'tunnel' || key === 'tunnelname' || key === 'tunnelidentifier') && value)
      creds.tunnelName = value;
    else if ((key === 'owner' || key === 'tunnelowner' || key === 'parenttunnel') && value)
      creds.tunnelOwner = value;
    else throw new Error(`unknown proxy user parameter "${key}" (expected tunnel=NAME or owner=USER)`);
  }
  return creds;
}
