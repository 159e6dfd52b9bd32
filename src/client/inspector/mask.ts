/**
 * What the inspector never keeps: credentials in headers (Authorization, Proxy-Authorization, cookies) and the
 * secret values of sc's own options (--auth passwords, --header values...). Header values are masked when they are
 * recorded; the values masked in an exchange's headers are remembered with it, so a body that echoes them (an app
 * that prints its request headers) is scrubbed of them too when it is shown.
 */

export const MASK = '****';

/** Values shorter than this are not scrubbed from bodies (they would match too much). */
const MIN_SECRET = 4;

/** name=value pairs of a Cookie header with every value masked. */
function maskCookie(value: string, seen: string[]): string {
  return value
    .split(';')
    .map((part) => {
      const p = part.trim();
      const i = p.indexOf('=');
      if (i < 0) return p;
      remember(p.slice(i + 1), seen);
      return `${p.slice(0, i)}=${MASK}`;
    })
    .join('; ');
}

/** A Set-Cookie header: the cookie's value masked, its attributes (Path, HttpOnly...) kept. */
function maskSetCookie(value: string, seen: string[]): string {
  const semi = value.indexOf(';');
  const pair = semi < 0 ? value : value.slice(0, semi);
  const i = pair.indexOf('=');
  if (i < 0) return value;
  remember(pair.slice(i + 1).trim(), seen);
  return `${pair.slice(0, i)}=${MASK}${semi < 0 ? '' : value.slice(semi)}`;
}

/** `Basic ****`: the scheme stays (it says which kind of credentials were sent), the rest goes. */
function maskCredentials(value: string, seen: string[]): string {
  const m = /^(\S+)\s+(.+)$/.exec(value.trim());
  if (!m) {
    remember(value.trim(), seen);
    return MASK;
  }
  remember(m[2]!, seen);
  // Basic credentials: the decoded password may also show up on its own.
  if (m[1]!.toLowerCase() === 'basic') {
    const decoded = Buffer.from(m[2]!, 'base64').toString('utf8');
    const c = decoded.indexOf(':');
    if (c >= 0) remember(decoded.slice(c + 1), seen);
  }
  return `${m[1]} ${MASK}`;
}

function remember(v: string, seen: string[]): void {
  if (v.length >= MIN_SECRET && !seen.includes(v)) seen.push(v);
}

/** Replaces every occurrence of each secret in `text`. */
export function scrub(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const s of secrets) if (s.length >= MIN_SECRET && out.includes(s)) out = out.split(s).join(MASK);
  return out;
}

/**
 * One header value as the inspector keeps it. `secrets` are sc's own secret option values (scrubbed from any
 * header); the masked credentials are appended to `seen`.
 */
export function maskHeader(name: string, value: string, secrets: readonly string[], seen: string[]): string {
  switch (name.toLowerCase()) {
    case 'authorization':
    case 'proxy-authorization':
      return maskCredentials(value, seen);
    case 'cookie':
      return maskCookie(value, seen);
    case 'set-cookie':
      return maskSetCookie(value, seen);
    default:
      return scrub(value, secrets);
  }
}
