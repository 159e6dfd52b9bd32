/**
 * The local API of `sc` (off unless --api-address): what CI loops, Kubernetes probes and Prometheus read.
 *
 *   /readyz /readiness   200 "OK" once the tunnel carries traffic, else 503 (CI waits on this)
 *   /healthz /liveness   200 while the process runs
 *   /info                tunnel_id, tunnel_name, tunnel_server, tunnel_host (JSON)
 *   /metrics             Prometheus text, sauce_connect_* names
 *   /configz             effective options, name=value lines, secrets masked
 *   /version             JSON
 *   /inspector/...       the live request inspector, with --inspector only (inspector/routes.ts)
 *
 * --api-basic-auth covers every route, the probes included: Kubernetes probes send the header
 * (httpGet.httpHeaders), and `sc ready` takes the same flag (docs/inspector.md).
 *
 * `createApiServer` builds the handler without a socket; `listenApiServer` binds it.
 */
import { timingSafeEqual } from 'node:crypto';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import net, { type AddressInfo } from 'node:net';
import type { HttpLogger } from '../../observability/http-log.js';
import type { ClientState } from '../client-handle.js';
import type { Inspector } from '../inspector/recorder.js';
import { inspectorRoutes } from '../inspector/routes.js';
import type { ClientMetrics } from './metrics.js';

export interface ApiServerConfig {
  /** `user[:pass]` (URL-decoded); empty for no authentication. */
  basicAuth: string;
  /** Idle keep-alive timeout in ms; 0 keeps idle connections open. */
  idleTimeoutMs: number;
  /** Name shown by /info before the tunnel exists. */
  tunnelName: string;
}

export interface ApiServerDeps {
  state: ClientState;
  metrics: ClientMetrics;
  /** Effective options, secrets already masked. */
  configz: () => Record<string, string>;
  version: Record<string, string>;
  httpLog?: HttpLogger;
  /** --inspector: its routes under /inspector. */
  inspector?: Inspector;
}

const ROUTES = [
  '/readyz',
  '/healthz',
  '/readiness',
  '/liveness',
  '/info',
  '/metrics',
  '/configz',
  '/version',
];

function expectedAuth(basicAuth: string): Buffer | null {
  if (!basicAuth) return null;
  const i = basicAuth.indexOf(':');
  const user = decodeURIComponent(i < 0 ? basicAuth : basicAuth.slice(0, i));
  const pass = i < 0 ? '' : decodeURIComponent(basicAuth.slice(i + 1));
  return Buffer.from(`Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`);
}

function authorized(expected: Buffer | null, header: string | undefined): boolean {
  if (!expected) return true;
  const got = Buffer.from(header ?? '');
  return got.length === expected.length && timingSafeEqual(got, expected);
}

export function createApiServer(cfg: ApiServerConfig, deps: ApiServerDeps): http.Server {
  const expected = expectedAuth(cfg.basicAuth);
  const inspector = deps.inspector
    ? inspectorRoutes(deps.inspector, { checkHost: expected === null })
    : undefined;
  const routes = inspector ? [...ROUTES, '/inspector/'] : ROUTES;
  const server = http.createServer((req, res) => {
    const started = performance.now();
    res.on('finish', () =>
      deps.httpLog?.log({
        method: req.method ?? '',
        url: req.url ?? '',
        status: res.statusCode,
        durationMs: performance.now() - started,
        reqHeaders: req.headers,
        resHeaders: res.getHeaders(),
      }),
    );
    handle(req, res);
  });
  // Node closes a keep-alive connection after keepAliveTimeout; `timeout` also covers a silent client.
  server.keepAliveTimeout = cfg.idleTimeoutMs;
  server.timeout = cfg.idleTimeoutMs;

  function send(res: ServerResponse, status: number, body: string, type = 'text/plain; charset=utf-8'): void {
    res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body) });
    res.end(body);
  }

  function handle(req: IncomingMessage, res: ServerResponse): void {
    if (!authorized(expected, req.headers.authorization)) {
      res.setHeader('www-authenticate', 'Basic realm="sc"');
      return send(res, 401, 'Unauthorized\n');
    }
    const path = (req.url ?? '/').split('?')[0]!;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('allow', 'GET, HEAD');
      return send(res, 405, 'Method Not Allowed\n');
    }
    if (inspector && (path === '/inspector' || path.startsWith('/inspector/')))
      return inspector(req, res, path);
    const { state } = deps;
    switch (path) {
      case '/readyz':
      case '/readiness':
        return state.isReady() ? send(res, 200, 'OK') : send(res, 503, 'Service Unavailable');
      case '/healthz':
      case '/liveness':
        return state.isAlive() ? send(res, 200, 'OK') : send(res, 503, 'Service Unavailable');
      case '/info': {
        const info = state.info() ?? {
          tunnel_id: '',
          tunnel_name: cfg.tunnelName,
          tunnel_server: '',
          tunnel_host: '',
        };
        return send(res, 200, JSON.stringify(info), 'application/json');
      }
      case '/configz': {
        const lines = Object.entries(deps.configz()).map(([k, v]) => `${k}=${v}\n`);
        return send(res, 200, lines.join(''));
      }
      case '/version':
        return send(res, 200, JSON.stringify(deps.version), 'application/json');
      case '/metrics':
        deps.metrics.tunnelConnections.set(state.connections().active);
        deps.metrics.registry.metrics().then(
          (text) => send(res, 200, text, deps.metrics.registry.contentType),
          (err: unknown) => send(res, 500, `metrics: ${(err as Error).message}\n`),
        );
        return;
      case '/':
        return send(res, 200, routes.join('\n') + '\n');
      default:
        return send(res, 404, 'Not Found\n');
    }
  }
  return server;
}

/** Splits `--api-address`: an empty host (":8032") listens on all interfaces. */
export function splitApiAddress(address: string): { host: string | undefined; port: number } {
  const i = address.lastIndexOf(':');
  const host = address.slice(0, i).replace(/^\[(.*)\]$/, '$1');
  return { host: host === '' ? undefined : host, port: Number(address.slice(i + 1)) };
}

/** Whether the host of --api-address is loopback only (an empty host listens on all interfaces). */
export function isLoopbackAddress(address: string): boolean {
  const { host } = splitApiAddress(address);
  if (host === undefined) return false;
  const h = host.toLowerCase();
  if (h === 'localhost') return true;
  if (net.isIPv4(h)) return h.startsWith('127.');
  if (net.isIPv6(h)) return h === '::1' || /^::ffff:127\./.test(h);
  return false;
}

/**
 * Why --inspector cannot be served with these API settings, or undefined when it can: it needs the API, and
 * off loopback it needs --api-basic-auth (request bodies and headers must not be open to the network).
 */
export function inspectorProblem(apiAddress: string, basicAuth: string): string | undefined {
  if (!apiAddress)
    return '--inspector is served on the local API: set --api-address too (for example --api-address 127.0.0.1:8032)';
  if (!basicAuth && !isLoopbackAddress(apiAddress))
    return (
      `--inspector with --api-address ${apiAddress} would show the tunnel's traffic to the network: ` +
      'listen on loopback (--api-address 127.0.0.1:PORT) or set --api-basic-auth user:pass'
    );
  return undefined;
}

/** host:port as logged: ":PORT" for all interfaces, "[::1]:PORT" for IPv6. */
export function formatListenAddress(requestedHost: string | undefined, a: AddressInfo): string {
  if (requestedHost === undefined) return `:${a.port}`;
  return a.family === 'IPv6' ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`;
}

/** Binds the server; resolves with the address to log once it listens. */
export function listenApiServer(server: http.Server, address: string): Promise<string> {
  const { host, port } = splitApiAddress(address);
  return new Promise((resolvePromise, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolvePromise(formatListenAddress(host, server.address() as AddressInfo));
    });
  });
}
