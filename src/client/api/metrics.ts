/**
 * Prometheus metrics of `sc`, named as SC5's (`sauce_connect_*`) so existing dashboards keep working.
 * The lead's data path (egress, supervisor, run.ts) updates them; the local API serves them at /metrics.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { GIT_COMMIT, VERSION } from '../../version.js';

export interface ClientMetrics {
  registry: Registry;
  httpRequestsTotal: Counter<'code' | 'method'>;
  httpRequestDuration: Histogram<'code' | 'method'>;
  httpRequestsInFlight: Gauge<'method'>;
  /** Bytes sent to the target per request: head as rewritten plus the body as framed (CONNECT: all bytes). */
  httpRequestSize: Histogram<'code' | 'method'>;
  /** Bytes received from the target per request: head plus the body as framed (CONNECT: all bytes). */
  httpResponseSize: Histogram<'code' | 'method'>;
  /** Errors by the part of sc that met them (`proxy`: proxied requests that failed). */
  errorsTotal: Counter<'name'>;
  proxyErrorsTotal: Counter<'reason'>;
  dialerDialedTotal: Counter<'host'>;
  dialerErrorsTotal: Counter<'host'>;
  dialerClosedTotal: Counter<'host'>;
  tunnelDialerDialedTotal: Counter<'host'>;
  tunnelDialerErrorsTotal: Counter<'host'>;
  tunnelDialerClosedTotal: Counter<'host'>;
  tunnelErrorsTotal: Counter<'type'>;
  tunnelConnectDuration: Histogram<'address'>;
  /**
   * SC5 names these `sauce_connect_tunnel_{received,sent}_bytes{conn}` without `_total`. promtool refuses a
   * counter without the `_total` suffix, so they are gauges holding the running byte count of each connection
   * (set or inc them; the name stays SC5's so dashboards keep working).
   */
  tunnelReceivedBytes: Gauge<'conn'>;
  tunnelSentBytes: Gauge<'conn'>;
  tunnelInfo: Gauge<'addr' | 'hostname' | 'id' | 'name'>;
  tunnelConnections: Gauge;
}

/** 256 B to 1 GiB, by powers of 4. */
const SIZE_BUCKETS = Array.from({ length: 12 }, (_, i) => 256 * 4 ** i);

export function createClientMetrics(): ClientMetrics {
  const registry = new Registry();
  const p = 'sauce_connect_';
  const registers = [registry];
  collectDefaultMetrics({ register: registry, prefix: p });
  // prom-client names these gauges *_total, which promtool rejects (only counters may end in _total); SC5 has
  // no equivalent, so they are dropped rather than renamed.
  for (const name of ['active_handles_total', 'active_requests_total', 'active_resources_total'])
    registry.removeSingleMetric(`${p}nodejs_${name}`);
  const version = new Gauge({
    name: `${p}version`,
    help: 'Version of sc (always 1).',
    labelNames: ['commit', 'time', 'version'],
    registers,
  });
  version.set({ commit: GIT_COMMIT, time: process.env['SLUICE_BUILD_TIME'] ?? '', version: VERSION }, 1);
  const counter = <L extends string>(name: string, help: string, labelNames: L[]): Counter<L> =>
    new Counter({ name: `${p}${name}`, help, labelNames, registers });
  return {
    registry,
    httpRequestsTotal: counter('http_requests_total', 'Proxied requests by status code and method.', [
      'code',
      'method',
    ]),
    httpRequestDuration: new Histogram({
      name: `${p}http_request_duration_seconds`,
      help: 'Time to serve a proxied request.',
      labelNames: ['code', 'method'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    }),
    httpRequestsInFlight: new Gauge({
      name: `${p}http_requests_in_flight`,
      help: 'Proxied requests in flight.',
      labelNames: ['method'],
      registers,
    }),
    httpRequestSize: new Histogram({
      name: `${p}http_request_size_bytes`,
      help: 'Bytes sent to the target per proxied request (head and body as framed; CONNECT: the whole pipe).',
      labelNames: ['code', 'method'],
      buckets: SIZE_BUCKETS,
      registers,
    }),
    httpResponseSize: new Histogram({
      name: `${p}http_response_size_bytes`,
      help: 'Bytes received from the target per proxied request (head and body as framed; CONNECT: the whole pipe).',
      labelNames: ['code', 'method'],
      buckets: SIZE_BUCKETS,
      registers,
    }),
    errorsTotal: counter('errors_total', 'Errors by the part of sc that met them.', ['name']),
    proxyErrorsTotal: counter('proxy_errors_total', 'Proxy errors by reason.', ['reason']),
    dialerDialedTotal: counter('dialer_dialed_total', 'Connections dialed to targets.', ['host']),
    dialerErrorsTotal: counter('dialer_errors_total', 'Failed dials to targets.', ['host']),
    dialerClosedTotal: counter('dialer_closed_total', 'Closed target connections.', ['host']),
    tunnelDialerDialedTotal: counter('tunnel_dialer_dialed_total', 'Tunnel connections dialed.', ['host']),
    tunnelDialerErrorsTotal: counter('tunnel_dialer_errors_total', 'Failed tunnel dials.', ['host']),
    tunnelDialerClosedTotal: counter('tunnel_dialer_closed_total', 'Closed tunnel connections.', ['host']),
    tunnelErrorsTotal: counter('tunnel_errors_total', 'Tunnel errors by type.', ['type']),
    tunnelConnectDuration: new Histogram({
      name: `${p}tunnel_connect_duration_seconds`,
      help: 'Time to establish a tunnel connection.',
      labelNames: ['address'],
      registers,
    }),
    tunnelReceivedBytes: new Gauge({
      name: `${p}tunnel_received_bytes`,
      help: 'Bytes received from the server on each tunnel connection.',
      labelNames: ['conn'],
      registers,
    }),
    tunnelSentBytes: new Gauge({
      name: `${p}tunnel_sent_bytes`,
      help: 'Bytes sent to the server on each tunnel connection.',
      labelNames: ['conn'],
      registers,
    }),
    tunnelInfo: new Gauge({
      name: `${p}tunnel_info`,
      help: 'The tunnel of this sc: 1 once it exists on the server.',
      labelNames: ['addr', 'hostname', 'id', 'name'],
      registers,
    }),
    tunnelConnections: new Gauge({
      name: `${p}tunnel_connections`,
      help: 'Usable tunnel connections.',
      registers,
    }),
  };
}
