/**
 * Every way a proxied request can fail, mapped in one place to an HTTP status, the `X-Sluice-Error` header value
 * and the metric label. The client's egress and the server's proxy entry both answer through this table, so a
 * browser sees the same thing whichever side failed. docs/errors.md lists the same codes (a test checks it).
 */
import { STATUS_CODES } from 'node:http';

export const ERROR_HEADER = 'x-sluice-error';

export const proxyErrors = {
  bad_request: { status: 400, text: 'malformed proxy request' },
  proxy_auth_required: { status: 407, text: 'proxy credentials are missing or wrong' },
  auth_rate_limited: { status: 429, text: 'too many failed authentication attempts' },
  too_many_connections: { status: 429, text: 'too many open connections from this address' },
  header_timeout: { status: 408, text: 'the request head did not arrive in time' },
  tunnel_not_found: { status: 403, text: 'no running tunnel with that name is available to this account' },
  tunnel_forbidden: { status: 403, text: 'this account may not use that tunnel' },
  denied: { status: 403, text: 'the tunnel client refused to proxy to this host' },
  direct_denied: { status: 403, text: 'direct routing may not reach this address' },
  localhost_denied: { status: 403, text: 'localhost proxying is disabled (sc run --proxy-localhost)' },
  header_too_large: { status: 431, text: 'request header fields too large' },
  tunnel_unavailable: { status: 503, text: 'the tunnel has no usable connection' },
  tunnel_capacity: { status: 503, text: 'all tunnel streams are busy; retry later' },
  store_unavailable: { status: 503, text: "the server's store is unavailable; retry later" },
  tunnel_stream_failed: { status: 502, text: 'the tunnel connection failed while carrying the request' },
  dial_refused: { status: 502, text: 'the target refused the connection' },
  dns_failed: { status: 502, text: 'the target host name did not resolve' },
  dial_failed: { status: 502, text: 'failed to connect to the target' },
  upstream_reset: { status: 502, text: 'the target closed the connection' },
  target_tls_failed: {
    status: 502,
    text: 'TLS to the target failed: its certificate did not verify or the handshake broke (resigned HTTPS)',
  },
  dns_timeout: { status: 504, text: 'no DNS server answered in time (sc run --dns-timeout)' },
  upstream_proxy_auth: { status: 502, text: 'the upstream proxy refused our credentials (407)' },
  upstream_proxy_unreachable: { status: 502, text: 'the upstream proxy could not be reached' },
  upstream_proxy_refused: { status: 502, text: 'the upstream proxy refused to connect to the target' },
  kerberos_failed: { status: 502, text: 'no Kerberos (SPNEGO) token could be made for the site or proxy' },
  pac_failed: { status: 502, text: 'the PAC script failed or returned no usable route' },
  pac_timeout: { status: 502, text: 'the PAC script did not answer in time' },
  dial_timeout: { status: 504, text: 'connecting to the target timed out' },
  response_timeout: { status: 504, text: 'the target did not answer in time' },
} as const;

export type ProxyErrorCode = keyof typeof proxyErrors;

export function isProxyErrorCode(v: unknown): v is ProxyErrorCode {
  return typeof v === 'string' && Object.hasOwn(proxyErrors, v);
}

/** Maps a Node socket error to the code shown to the browser. */
export function codeForSocketError(err: unknown): ProxyErrorCode {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  switch (code) {
    case 'ECONNREFUSED':
      return 'dial_refused';
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return 'dns_failed';
    case 'ESC_DNS_TIMEOUT':
      return 'dns_timeout';
    case 'ETIMEDOUT':
    case 'ESC_DIAL_TIMEOUT':
      return 'dial_timeout';
    case 'ESC_RESPONSE_TIMEOUT':
      return 'response_timeout';
    case 'ECONNRESET':
    case 'EPIPE':
      return 'upstream_reset';
    case 'ESC_UPSTREAM_AUTH':
      return 'upstream_proxy_auth';
    case 'ESC_UPSTREAM_UNREACHABLE':
      return 'upstream_proxy_unreachable';
    case 'ESC_UPSTREAM_REFUSED':
      return 'upstream_proxy_refused';
    case 'ESC_KERBEROS':
      return 'kerberos_failed';
    case 'ESC_PAC_FAILED':
      return 'pac_failed';
    case 'ESC_PAC_TIMEOUT':
      return 'pac_timeout';
    default:
      return 'dial_failed';
  }
}

/** The one-line text body of an error response. */
export function errorBody(code: ProxyErrorCode, detail?: string): string {
  return `sluice: ${proxyErrors[code].text}${detail ? `: ${detail}` : ''} (${code})\n`;
}

/**
 * A whole HTTP/1.1 error response that closes the connection, for places that write to a raw socket or stream:
 * status line, the X-Sluice-Error header, `extra` headers, and the text body (left out for HEAD).
 */
export function errorResponse(
  code: ProxyErrorCode,
  detail?: string,
  extra: Record<string, string> = {},
  withBody = true,
): Buffer {
  const status = proxyErrors[code].status;
  const body = errorBody(code, detail);
  const head = [
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}`,
    'Content-Type: text/plain; charset=utf-8',
    `Content-Length: ${Buffer.byteLength(body)}`,
    `X-Sluice-Error: ${code}`,
    ...Object.entries(extra).map(([k, v]) => `${k}: ${v}`),
    'Connection: close',
  ];
  return Buffer.from(`${head.join('\r\n')}\r\n\r\n${withBody ? body : ''}`);
}
