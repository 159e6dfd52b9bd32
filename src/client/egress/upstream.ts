/**
 * Upstream proxies for `sc`'s egress (--proxy, PAC results) and for its own connections to the server
 * (--proxy-sauce): a connection to a target opened through an HTTP(S) proxy (CONNECT) or a SOCKS5 proxy.
 *
 * Every target, plain http included, goes through a CONNECT tunnel: the pipeline writes origin-form requests on the
 * socket a Dialer returns, and one path for every scheme keeps the proxy's view simple (it sees host:port only).
 * A Kerberos proxy gets a fresh SPNEGO token on each CONNECT (kerberos.ts); when none can be made the connection
 * fails with ESC_KERBEROS before anything is sent. A proxy that answers 407 (or 401) fails with ESC_UPSTREAM_AUTH,
 * one that cannot be reached with ESC_UPSTREAM_UNREACHABLE, any other refusal with ESC_UPSTREAM_REFUSED (errors.ts
 * maps them to their X-Sluice-Error codes).
 */
import net from 'node:net';
import tls from 'node:tls';
import { SocksClient } from 'socks';

export type UpstreamKind = 'http' | 'https' | 'socks5';

export interface UpstreamProxy {
  kind: UpstreamKind;
  host: string;
  port: number;
  username?: string;
  password?: string;
  /**
   * Kerberos for this proxy (--kerberos-auth-upstream-proxy, --proxy-sauce-enable-kerberos-auth): the
   * `Negotiate <token>` value for a proxy host, sent up front on each CONNECT instead of Basic credentials.
   */
  negotiate?: (proxyHost: string) => Promise<string>;
}

/**
 * Hook for credentials of an upstream proxy that has none in its URL: the --auth rules, `user:pass@host:port`
 * (client-rules.ts proxyCredentials).
 */
export type ProxyCredentials = (proxy: UpstreamProxy) => { username: string; password: string } | undefined;

const DEFAULT_PORT: Record<UpstreamKind, number> = { http: 8080, https: 443, socks5: 1080 };

/** Parses `[scheme://][user:pass@]host:port` (the value run-flags' proxyUrl check accepted). */
export function parseProxyUrl(value: string): UpstreamProxy {
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(value) ? value : `http://${value}`;
  const u = new URL(withScheme);
  const scheme = u.protocol.slice(0, -1).toLowerCase();
  const kind: UpstreamKind =
    scheme === 'https' ? 'https' : scheme === 'socks5' || scheme === 'socks' ? 'socks5' : 'http';
  const host = u.hostname.replace(/^\[|\]$/g, '');
  return {
    kind,
    host,
    port: u.port ? Number(u.port) : DEFAULT_PORT[kind],
    ...(u.username
      ? { username: decodeURIComponent(u.username), password: decodeURIComponent(u.password) }
      : {}),
  };
}

/** host:port of a proxy, for logs and error details (never its credentials). */
export function proxyLabel(p: UpstreamProxy): string {
  return `${p.kind}://${p.host.includes(':') ? `[${p.host}]` : p.host}:${p.port}`;
}

function fail(code: string, message: string): Error {
  return Object.assign(new Error(message), { code });
}

export interface ViaOptions {
  /** Connect (and CONNECT answer) deadline; 0 = none. */
  timeoutMs: number;
  credentials?: ProxyCredentials;
  /** Trust for an https:// proxy's certificate (default: Node's roots). */
  secureContext?: tls.SecureContext;
}

function credentialsOf(p: UpstreamProxy, o: ViaOptions): { username: string; password: string } | undefined {
  if (p.username !== undefined) return { username: p.username, password: p.password ?? '' };
  return o.credentials?.(p);
}

/** Opens a connection to host:port through the proxy; resolves once bytes can flow end to end. */
export function connectVia(p: UpstreamProxy, host: string, port: number, o: ViaOptions): Promise<net.Socket> {
  if (p.kind === 'socks5') return viaSocks(p, host, port, o);
  if (!p.negotiate) return viaHttp(p, host, port, o);
  return p.negotiate(p.host).then((authorization) => viaHttp(p, host, port, o, authorization));
}

async function viaSocks(p: UpstreamProxy, host: string, port: number, o: ViaOptions): Promise<net.Socket> {
  const cred = credentialsOf(p, o);
  try {
    const { socket } = await SocksClient.createConnection({
      proxy: {
        host: p.host,
        port: p.port,
        type: 5,
        ...(cred ? { userId: cred.username, password: cred.password } : {}),
      },
      command: 'connect',
      destination: { host, port },
      timeout: o.timeoutMs > 0 ? o.timeoutMs : undefined,
    });
    socket.setNoDelay(true);
    return socket;
  } catch (err) {
    const msg = (err as Error).message;
    if (/authentication/i.test(msg)) throw fail('ESC_UPSTREAM_AUTH', `${proxyLabel(p)}: ${msg}`);
    if (/ECONNREFUSED|EHOSTUNREACH|ENETUNREACH|timed? ?out|closed/i.test(msg))
      throw fail('ESC_UPSTREAM_UNREACHABLE', `${proxyLabel(p)}: ${msg}`);
    throw fail('ESC_UPSTREAM_REFUSED', `${proxyLabel(p)}: ${msg}`);
  }
}

function authority(host: string, port: number): string {
  return `${host.includes(':') ? `[${host}]` : host}:${port}`;
}

function viaHttp(
  p: UpstreamProxy,
  host: string,
  port: number,
  o: ViaOptions,
  authorization?: string,
): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const raw =
      p.kind === 'https'
        ? tls.connect({
            host: p.host,
            port: p.port,
            servername: net.isIP(p.host) ? undefined : p.host,
            secureContext: o.secureContext,
            ALPNProtocols: ['http/1.1'],
          })
        : net.connect({ host: p.host, port: p.port });
    let settled = false;
    let connected = false;
    const done = (err: Error | null): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      raw.off('data', onData);
      if (err) {
        raw.destroy();
        reject(err);
      } else {
        raw.off('error', onError);
        resolve(raw);
      }
    };
    const timer =
      o.timeoutMs > 0
        ? setTimeout(
            () => done(fail('ESC_UPSTREAM_UNREACHABLE', `${proxyLabel(p)}: no answer in time`)),
            o.timeoutMs,
          )
        : undefined;
    const onError = (err: NodeJS.ErrnoException): void =>
      done(
        fail(
          connected ? 'ESC_UPSTREAM_REFUSED' : 'ESC_UPSTREAM_UNREACHABLE',
          `${proxyLabel(p)}: ${err.code ?? err.message}`,
        ),
      );
    raw.on('error', onError);
    raw.once('close', () =>
      done(fail('ESC_UPSTREAM_REFUSED', `${proxyLabel(p)}: closed before answering CONNECT`)),
    );
    let buf = Buffer.alloc(0);
    const onData = (chunk: Buffer): void => {
      buf = Buffer.concat([buf, chunk]);
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) {
        if (buf.length > 16384) done(fail('ESC_UPSTREAM_REFUSED', `${proxyLabel(p)}: oversized answer`));
        return;
      }
      const head = buf.subarray(0, end).toString('latin1');
      const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(head)?.[1] ?? 0);
      // 407, or 401 (tinyproxy's answer to wrong credentials): the proxy wants other credentials.
      if (status === 407 || status === 401)
        return done(
          fail(
            'ESC_UPSTREAM_AUTH',
            `${proxyLabel(p)} refused the credentials ("${head.split('\r\n')[0] ?? ''}")`,
          ),
        );
      if (status < 200 || status > 299)
        return done(
          fail('ESC_UPSTREAM_REFUSED', `${proxyLabel(p)} answered "${head.split('\r\n')[0] ?? ''}"`),
        );
      // Paused until the caller has attached its own listeners (their .then runs before the immediate).
      raw.pause();
      const rest = buf.subarray(end + 4);
      if (rest.length) raw.unshift(rest);
      raw.removeAllListeners('close');
      done(null);
      setImmediate(() => raw.resume());
    };
    raw.once(p.kind === 'https' ? 'secureConnect' : 'connect', () => {
      connected = true;
      raw.setNoDelay(true);
      const cred = authorization ? undefined : credentialsOf(p, o);
      const target = authority(host, port);
      raw.write(
        `CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\n` +
          (authorization ? `Proxy-Authorization: ${authorization}\r\n` : '') +
          (cred
            ? `Proxy-Authorization: Basic ${Buffer.from(`${cred.username}:${cred.password}`).toString('base64')}\r\n`
            : '') +
          '\r\n',
      );
      raw.on('data', onData);
    });
  });
}
