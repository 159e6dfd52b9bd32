/**
 * sc-server's Prometheus metrics, served at /metrics on the REST listener. Labels carry status codes, methods and
 * error codes only: no user or tunnel names, so the endpoint reveals nothing about accounts.
 */
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { Registry as TunnelRegistry } from './registry/registry.js';

export interface ServerMetrics {
  registry: Registry;
  proxyRequestsTotal: Counter<'code' | 'method'>;
  proxyErrorsTotal: Counter<'reason'>;
}

export function createServerMetrics(tunnels: TunnelRegistry): ServerMetrics {
  const registry = new Registry();
  const registers = [registry];
  collectDefaultMetrics({ register: registry, prefix: 'sluice_server_' });
  // Gauges that prom-client names *_total, which promtool rejects (only counters may end in _total).
  for (const name of ['active_handles_total', 'active_requests_total', 'active_resources_total'])
    registry.removeSingleMetric(`sluice_server_nodejs_${name}`);
  const gauge = (
    name: string,
    help: string,
    pick: (s: ReturnType<TunnelRegistry['stats']>) => number,
  ): void => {
    new Gauge({
      name: `sluice_server_${name}`,
      help,
      registers,
      collect() {
        this.set(pick(tunnels.stats()));
      },
    });
  };
  gauge('live_tunnels', 'Tunnels with at least one connection.', (s) => s.tunnels);
  gauge('tunnel_connections', 'Tunnel connections from sc clients.', (s) => s.connections);
  gauge('tunnel_streams', 'Open streams over tunnel connections.', (s) => s.streams);
  return {
    registry,
    proxyRequestsTotal: new Counter({
      name: 'sluice_server_proxy_requests_total',
      help: 'Requests answered by the proxy entry, by status code and method (CONNECT counted once per tunnel).',
      labelNames: ['code', 'method'],
      registers,
    }),
    proxyErrorsTotal: new Counter({
      name: 'sluice_server_proxy_errors_total',
      help: 'Failed proxy requests by X-Sluice-Error code (see docs/errors.md).',
      labelNames: ['reason'],
      registers,
    }),
  };
}
