/**
 * Prometheus metrics of `sc`, named as SC5's (`sauce_connect_*`) so existing dashboards keep working.
 * The lead's data path (egress, supervisor, run.ts) updates them; the local API serves them at /metrics.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { GIT_COMMIT, VERSION } from '../../version.js';

export interface ClientMetrics {
  registry: Registry;
  httpRequestsTotal: FastCounter<'code' | 'method'>;
  httpRequestDuration: FastHistogram<'code' | 'method'>;
  httpRequestsInFlight: FastGauge<'method'>;
  /** Bytes sent to the target per request: head as rewritten plus the body as framed (CONNECT: all bytes). */
  httpRequestSize: FastHistogram<'code' | 'method'>;
  /** Bytes received from the target per request: head plus the body as framed (CONNECT: all bytes). */
  httpResponseSize: FastHistogram<'code' | 'method'>;
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

// ---- per-request families ---------------------------------------------------------------------------------
//
// prom-client hashes the label set on every inc/observe, even through a bound child (~2 µs each measured on the
// benchmark machine): five of them per request cost the spliced path several per cent of its CPU. These
// families count in plain objects and build their samples only when /metrics is read; their text is
// prom-client's (the registry formats it).

type Labels<L extends string> = Record<L, string>;
interface Sample {
  value: number;
  labels: Record<string, string>;
  metricName?: string;
}

abstract class FastMetric<L extends string, C> {
  readonly aggregator = 'sum';
  protected readonly children = new Map<string, { labels: Labels<L>; c: C }>();

  constructor(
    registry: Registry,
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly L[],
  ) {
    registry.registerMetric(this as unknown as Parameters<Registry['registerMetric']>[0]);
  }

  protected abstract fresh(): C;

  protected child(labels: Labels<L>): C {
    let key = '';
    for (const n of this.labelNames) key += `${labels[n]}\u0000`;
    let e = this.children.get(key);
    if (!e) {
      const ordered = {} as Labels<L>;
      for (const n of this.labelNames) ordered[n] = String(labels[n]);
      this.children.set(key, (e = { labels: ordered, c: this.fresh() }));
    }
    return e.c;
  }

  reset(): void {
    this.children.clear();
  }
}

class CounterChild {
  value = 0;
  inc(v = 1): void {
    this.value += v;
  }
}

export class FastCounter<L extends string> extends FastMetric<L, CounterChild> {
  readonly type = 'counter';
  protected fresh(): CounterChild {
    return new CounterChild();
  }
  labels(labels: Labels<L>): CounterChild {
    return this.child(labels);
  }
  inc(labels: Labels<L>, v = 1): void {
    this.child(labels).inc(v);
  }
  get(): { name: string; help: string; type: string; aggregator: string; values: Sample[] } {
    const values = [...this.children.values()].map((e) => ({ value: e.c.value, labels: e.labels }));
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }
}

class GaugeChild {
  value = 0;
  inc(v = 1): void {
    this.value += v;
  }
  dec(v = 1): void {
    this.value -= v;
  }
  set(v: number): void {
    this.value = v;
  }
}

export class FastGauge<L extends string> extends FastMetric<L, GaugeChild> {
  readonly type = 'gauge';
  protected fresh(): GaugeChild {
    return new GaugeChild();
  }
  labels(labels: Labels<L>): GaugeChild {
    return this.child(labels);
  }
  inc(labels: Labels<L>, v = 1): void {
    this.child(labels).inc(v);
  }
  dec(labels: Labels<L>, v = 1): void {
    this.child(labels).dec(v);
  }
  set(labels: Labels<L>, v: number): void {
    this.child(labels).set(v);
  }
  get(): { name: string; help: string; type: string; aggregator: string; values: Sample[] } {
    const values = [...this.children.values()].map((e) => ({ value: e.c.value, labels: e.labels }));
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }
}

class HistogramChild {
  readonly counts: number[];
  sum = 0;
  count = 0;
  constructor(private readonly bounds: readonly number[]) {
    this.counts = new Array<number>(bounds.length).fill(0);
  }
  observe(v: number): void {
    const b = this.bounds;
    for (let i = 0; i < b.length; i++) {
      if (v <= b[i]!) {
        this.counts[i]!++;
        break;
      }
    }
    this.sum += v;
    this.count++;
  }
}

export class FastHistogram<L extends string> extends FastMetric<L, HistogramChild> {
  readonly type = 'histogram';
  constructor(
    registry: Registry,
    name: string,
    help: string,
    labelNames: readonly L[],
    readonly buckets: readonly number[],
  ) {
    super(registry, name, help, labelNames);
  }
  protected fresh(): HistogramChild {
    return new HistogramChild(this.buckets);
  }
  labels(labels: Labels<L>): HistogramChild {
    return this.child(labels);
  }
  observe(labels: Labels<L>, v: number): void {
    this.child(labels).observe(v);
  }
  get(): { name: string; help: string; type: string; aggregator: string; values: Sample[] } {
    const values: Sample[] = [];
    for (const { labels, c } of this.children.values()) {
      let acc = 0;
      this.buckets.forEach((le, i) => {
        acc += c.counts[i]!;
        values.push({ value: acc, labels: { le: String(le), ...labels }, metricName: `${this.name}_bucket` });
      });
      values.push({ value: c.count, labels: { le: '+Inf', ...labels }, metricName: `${this.name}_bucket` });
      values.push({ value: c.sum, labels, metricName: `${this.name}_sum` });
      values.push({ value: c.count, labels, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }
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
    httpRequestsTotal: new FastCounter(
      registry,
      `${p}http_requests_total`,
      'Proxied requests by status code and method.',
      ['code', 'method'],
    ),
    httpRequestDuration: new FastHistogram(
      registry,
      `${p}http_request_duration_seconds`,
      'Time to serve a proxied request.',
      ['code', 'method'],
      [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    ),
    httpRequestsInFlight: new FastGauge(
      registry,
      `${p}http_requests_in_flight`,
      'Proxied requests in flight.',
      ['method'],
    ),
    httpRequestSize: new FastHistogram(
      registry,
      `${p}http_request_size_bytes`,
      'Bytes sent to the target per proxied request (head and body as framed; CONNECT: the whole pipe).',
      ['code', 'method'],
      SIZE_BUCKETS,
    ),
    httpResponseSize: new FastHistogram(
      registry,
      `${p}http_response_size_bytes`,
      'Bytes received from the target per proxied request (head and body as framed; CONNECT: the whole pipe).',
      ['code', 'method'],
      SIZE_BUCKETS,
    ),
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
