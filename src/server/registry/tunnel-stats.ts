/**
 * Per-tunnel traffic counters for the web console (docs/console.md): streams (requests), bytes each way and
 * failed streams by error code, summed over a tunnel's connections, closed ones included, plus one sample per
 * second of the last few minutes for the live charts. Prometheus' /metrics stays free of tunnel names; these
 * counters are read only through the console's API, with the role rules applied there.
 *
 * Memory is bounded: SAMPLES samples per live tunnel, and the totals of tunnels that are no longer live are
 * forgotten after FORGET_MS.
 */
import type { Registry } from './registry.js';
import { TunnelConnection } from './tunnel-connection.js';

export interface TunnelTotals {
  requests: number;
  bytesIn: number;
  bytesOut: number;
  errors: Record<string, number>;
}

/** One second of a tunnel's traffic: when (ms), requests, bytes in and out, and failed streams. */
export interface TunnelSample {
  t: number;
  requests: number;
  bytesIn: number;
  bytesOut: number;
  errors: number;
}

const SAMPLES = 300;
const FORGET_MS = 3600_000;

interface Entry {
  /** Totals of this tunnel's connections that have closed. */
  retired: TunnelTotals;
  conns: Set<TunnelConnection>;
  samples: TunnelSample[];
  /** Counters at the previous sample (zeros at first: the first sample holds everything since the start). */
  last: { requests: number; bytesIn: number; bytesOut: number; errors: number };
  seen: number;
}

const empty = (): TunnelTotals => ({ requests: 0, bytesIn: 0, bytesOut: 0, errors: {} });

function add(into: TunnelTotals, c: TunnelConnection): void {
  const b = c.bytes();
  into.requests += c.streamsTotal;
  into.bytesIn += b.read;
  into.bytesOut += b.written;
  for (const [code, n] of c.errors) into.errors[code] = (into.errors[code] ?? 0) + n;
}

const errorSum = (t: TunnelTotals): number => Object.values(t.errors).reduce((a, b) => a + b, 0);

export class TunnelStats {
  private readonly entries = new Map<string, Entry>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly registry: Registry,
    private readonly now: () => number = Date.now,
  ) {}

  /** Samples every second (the timer does not keep the process alive). */
  start(intervalMs = 1000): void {
    this.timer ??= setInterval(() => this.sample(), intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Learns new connections from the registry and appends one sample per live tunnel. */
  sample(): void {
    const now = this.now();
    for (const live of this.registry.all()) {
      const e = this.entry(live.record.id);
      e.seen = now;
      // Only this node's own connections: another node counts those it holds (docs/cluster.md).
      for (const c of live.conns) if (c instanceof TunnelConnection) this.track(e, c);
      const t = this.totals(live.record.id);
      const cur = { requests: t.requests, bytesIn: t.bytesIn, bytesOut: t.bytesOut, errors: errorSum(t) };
      {
        e.samples.push({
          t: now,
          requests: cur.requests - e.last.requests,
          bytesIn: cur.bytesIn - e.last.bytesIn,
          bytesOut: cur.bytesOut - e.last.bytesOut,
          errors: cur.errors - e.last.errors,
        });
        if (e.samples.length > SAMPLES) e.samples.splice(0, e.samples.length - SAMPLES);
      }
      e.last = cur;
    }
    for (const [id, e] of this.entries)
      if (e.conns.size === 0 && now - e.seen > FORGET_MS) this.entries.delete(id);
  }

  /** Counters of a tunnel so far (zeros for one never seen live on this node). */
  totals(tunnelId: string): TunnelTotals {
    const e = this.entries.get(tunnelId);
    const live = this.registry.get(tunnelId);
    const out: TunnelTotals = {
      ...(e?.retired ?? empty()),
      errors: { ...(e?.retired.errors ?? {}) },
    };
    const counted = new Set<TunnelConnection>();
    for (const c of e?.conns ?? []) {
      counted.add(c);
      add(out, c);
    }
    for (const c of live?.conns ?? []) if (c instanceof TunnelConnection && !counted.has(c)) add(out, c);
    return out;
  }

  /** The last samples of a tunnel, oldest first. */
  samples(tunnelId: string): TunnelSample[] {
    return [...(this.entries.get(tunnelId)?.samples ?? [])];
  }

  private entry(id: string): Entry {
    let e = this.entries.get(id);
    if (!e) {
      e = {
        retired: empty(),
        conns: new Set(),
        samples: [],
        last: { requests: 0, bytesIn: 0, bytesOut: 0, errors: 0 },
        seen: this.now(),
      };
      this.entries.set(id, e);
    }
    return e;
  }

  private track(e: Entry, c: TunnelConnection): void {
    if (e.conns.has(c)) return;
    e.conns.add(c);
    c.onClose(() => {
      if (!e.conns.delete(c)) return;
      add(e.retired, c);
    });
  }
}
