/**
 * Per-session proxy ports (docs/decisions/0011-webdriver-gateway.md). Chrome ignores credentials in a proxy URL,
 * so a gateway session's browser reaches its tunnel through a port of its own: the store binds the port to the
 * session's tunnel (unique, so two nodes never hand out the same port), every node listens on every port of the
 * range, and a connection on a port is routed to whatever tunnel the store binds it to right now. No binding, no
 * route (`tunnel_not_found`). The proxy entry's own code carries the traffic; only authorization differs.
 */
import net from 'node:net';
import type http from 'node:http';
import type { Logger } from '../../observability/log.js';
import type { ServerMetrics } from '../metrics.js';
import type { Resigner } from '../pki/resign-ca.js';
import { closeProxyEntry, createProxyEntry, type RouteTarget } from '../proxy/proxy-entry.js';
import type { Registry } from '../registry/registry.js';
import type { Store } from '../store/types.js';
import type { ProxyErrorCode } from '../../protocol/errors.js';
import type { PortSpec } from './flags.js';

export interface SessionPorts {
  /** Every port this node listens on for sessions. */
  readonly ports: readonly number[];
  /** Closes the connections open on a port now (its session ended). */
  closePort(port: number): void;
  close(): Promise<void>;
}

export interface SessionPortsDeps {
  store: Store;
  registry: Registry;
  log: Logger;
  metrics?: ServerMetrics;
  maxHeaderSize?: number;
  resigner?: Resigner;
  host: string;
  spec: PortSpec;
}

function listen(server: net.Server, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve((server.address() as net.AddressInfo).port);
    });
  });
}

export async function startSessionPorts(deps: SessionPortsDeps): Promise<SessionPorts> {
  const byPort = new Map<number, Set<net.Socket>>();
  const authorizeByPort = async (port: number): Promise<RouteTarget | { error: ProxyErrorCode }> => {
    const s = await deps.store.getWebDriverSessionByPort(port);
    if (!s || !s.tunnelOwnerId || !s.tunnelName) return { error: 'tunnel_not_found' };
    return { ownerId: s.tunnelOwnerId, tunnelName: s.tunnelName, own: s.ownTunnel };
  };
  const entry: http.Server = createProxyEntry({
    registry: deps.registry,
    log: deps.log,
    metrics: deps.metrics,
    maxHeaderSize: deps.maxHeaderSize,
    // Splicing needs credentials in the first head; these connections have none.
    splice: false,
    authorize: () => Promise.resolve({ error: 'proxy_auth_required' }),
    authorizeByPort,
    resigner: deps.resigner,
  });
  const listeners: net.Server[] = [];
  const ports: number[] = [];
  const wanted =
    'count' in deps.spec
      ? Array.from({ length: deps.spec.count }, () => 0)
      : Array.from(
          { length: deps.spec.to - deps.spec.from + 1 },
          (_, i) => (deps.spec as { from: number }).from + i,
        );
  try {
    for (const want of wanted) {
      const server = net.createServer((socket) => {
        const port = socket.localPort ?? 0;
        const set = byPort.get(port) ?? new Set<net.Socket>();
        byPort.set(port, set);
        set.add(socket);
        socket.once('close', () => set.delete(socket));
        entry.emit('connection', socket);
      });
      listeners.push(server);
      ports.push(await listen(server, deps.host, want));
    }
  } catch (err) {
    for (const l of listeners) l.close();
    throw err;
  }
  return {
    ports,
    closePort(port) {
      for (const s of byPort.get(port) ?? []) s.destroy();
    },
    async close() {
      await Promise.all(listeners.map((l) => new Promise<void>((r) => l.close(() => r()))));
      for (const set of byPort.values()) for (const s of set) s.destroy();
      await closeProxyEntry(entry);
    },
  };
}
