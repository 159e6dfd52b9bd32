/**
 * How `sc` reaches targets in the private network: the localhost policy and the dial timeout, applied to both
 * plain HTTP requests (through a keep-alive agent) and CONNECT pipes.
 */
import dns, { type LookupAddress } from 'node:dns';
import http from 'node:http';
import net, { isIP } from 'node:net';
import type { Duplex } from 'node:stream';
import type { ProxyLocalhost } from '../../options/run-options.js';
import type { Resolve } from './dns.js';

export class PolicyError extends Error {
  readonly code = 'ESC_LOCALHOST_DENIED';
}

export interface DialPolicy {
  proxyLocalhost: ProxyLocalhost;
  dialTimeoutMs: number;
  /** --http-dial-attempts: tries per connection (1 = no retry). */
  dialAttempts: number;
  /** --http-dial-backoff: wait between tries. */
  dialBackoffMs: number;
  /** --dns-server: target names resolved through these servers (dns.ts) instead of the system resolver. */
  resolve?: Resolve;
  /** Told of each failed try that will be retried (sc logs it at debug level). */
  onRetry?: (target: string, attempt: number, error: string) => void;
}

/** Errors worth another try: the target may be starting or briefly overloaded. Policy and DNS errors are final. */
const RETRYABLE = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'ESC_DIAL_TIMEOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
]);

/** Connects under the policy, retrying per --http-dial-attempts and --http-dial-backoff. */
export async function connect(policy: DialPolicy, host: string, port: number): Promise<net.Socket> {
  for (let attempt = 1; ; attempt++) {
    try {
      const socket = dial(policy, host, port);
      await new Promise<void>((resolve, reject) => {
        socket.once('connect', resolve);
        socket.once('error', reject);
      });
      return socket;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? '';
      if (attempt >= policy.dialAttempts || !RETRYABLE.has(code)) throw err;
      policy.onRetry?.(`${host}:${port}`, attempt, code);
      await new Promise((r) => setTimeout(r, policy.dialBackoffMs));
    }
  }
}

/** localhost, *.localhost, the unspecified addresses and every loopback address count as "localhost". */
export function isLocalhostName(host: string): boolean {
  const h = host
    .replace(/^\[|\]$/g, '')
    .toLowerCase()
    .replace(/\.$/, '');
  if (h === 'localhost' || h.endsWith('.localhost')) return true;
  return isLoopbackAddress(h);
}

export function isLoopbackAddress(ip: string): boolean {
  if (isIP(ip) === 4) return ip.startsWith('127.') || ip === '0.0.0.0';
  if (isIP(ip) === 6)
    return ip === '::1' || ip === '::' || /^::ffff:127\./i.test(ip) || /^(0+:){7}0*1$/.test(ip);
  return false;
}

type LookupCb = (
  err: NodeJS.ErrnoException | null,
  address: string | LookupAddress[],
  family?: number,
) => void;

/**
 * A dns.lookup that refuses loopback results when localhost is denied, so a hosts-file alias of 127.0.0.1 is
 * treated like "localhost" itself.
 */
export function policyLookup(policy: DialPolicy): net.LookupFunction {
  return (hostname: string, options: dns.LookupOptions, cb: LookupCb) => {
    const look = (done: (err: NodeJS.ErrnoException | null, addresses: LookupAddress[]) => void): void => {
      if (policy.resolve)
        policy.resolve(hostname).then(
          (a) => done(null, a),
          (e: NodeJS.ErrnoException) => done(e, []),
        );
      else dns.lookup(hostname, { ...options, all: true }, done);
    };
    look((err, addresses) => {
      if (err) return cb(err, []);
      const list = addresses;
      if (policy.proxyLocalhost === 'deny' && list.some((a) => isLoopbackAddress(a.address))) {
        return cb(new PolicyError(`${hostname} resolves to a loopback address`), []);
      }
      if (options.all) return cb(null, list);
      const first = list[0];
      if (!first)
        return cb(Object.assign(new Error(`no address for ${hostname}`), { code: 'ENOTFOUND' }), []);
      cb(null, first.address, first.family);
    });
  };
}

/** Throws PolicyError when the policy forbids this host outright (before any DNS). */
export function checkHost(policy: DialPolicy, host: string): void {
  if (policy.proxyLocalhost === 'deny' && isLocalhostName(host)) {
    throw new PolicyError(`localhost proxying is disabled: ${host}`);
  }
}

/** Opens a TCP connection under the policy, failing with code ESC_DIAL_TIMEOUT after the dial timeout. */
export function dial(policy: DialPolicy, host: string, port: number): net.Socket {
  checkHost(policy, host);
  const socket = net.connect({
    host: host.replace(/^\[|\]$/g, ''),
    port,
    allowHalfOpen: true,
    noDelay: true,
    lookup: policyLookup(policy),
  });
  if (policy.dialTimeoutMs > 0) {
    const timer = setTimeout(() => {
      socket.destroy(
        Object.assign(new Error(`dial ${host}:${port} timed out`), { code: 'ESC_DIAL_TIMEOUT' }),
      );
    }, policy.dialTimeoutMs);
    socket.once('connect', () => clearTimeout(timer));
    socket.once('close', () => clearTimeout(timer));
  }
  return socket;
}

/** Keep-alive agent for plain HTTP targets whose sockets come from `dial`. */
export class PolicyAgent extends http.Agent {
  constructor(
    private readonly policy: DialPolicy,
    idleTimeoutMs: number,
  ) {
    super({
      keepAlive: true,
      maxSockets: Infinity,
      maxFreeSockets: 256,
      timeout: idleTimeoutMs || undefined,
    });
  }

  // Asynchronous form (the socket arrives through `cb`), so that dial retries happen before the request is sent.
  override createConnection(
    options: http.ClientRequestArgs,
    cb?: (err: Error | null, stream: Duplex) => void,
  ): undefined {
    connect(this.policy, String(options.host ?? 'localhost'), Number(options.port ?? 80)).then(
      (socket) => cb?.(null, socket),
      (err: Error) => cb?.(err, undefined as unknown as Duplex),
    );
    return undefined;
  }
}
