/**
 * Which tunnels are live, on which connections, and where the next stream goes.
 *
 * A tunnel is addressed by (owner account, tunnel name); several tunnels with one name form a pool. A new stream
 * goes to the usable connection with the fewest open streams across every member of the pool, which spreads load
 * over members and connections alike and steers around slow ones. When every connection is at its stream limit,
 * requests wait in a FIFO queue for a bounded time, then fail with 503 tunnel_capacity.
 *
 * The registry is the seam for several server nodes later: the same interface backed by PostgreSQL heartbeats and
 * a node-to-node link.
 */
import type { TunnelRecord } from '../store/types.js';
import type { ProxyErrorCode } from '../../protocol/errors.js';
import type { TunnelConnection } from './tunnel-connection.js';

export class RouteError extends Error {
  constructor(readonly code: ProxyErrorCode) {
    super(code);
  }
}

export interface LiveTunnel {
  record: TunnelRecord;
  conns: Set<TunnelConnection>;
}

interface Waiter {
  key: string;
  resolve: (c: TunnelConnection) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
}

const nameKey = (ownerId: string, name: string): string => `${ownerId}\u0000${name}`;

export class Registry {
  private readonly tunnels = new Map<string, LiveTunnel>();
  private readonly byName = new Map<string, Set<string>>();
  private waiters: Waiter[] = [];
  /** When each tunnel lost its last connection (ms), for the grace period; cleared when it connects again. */
  private readonly lastDisconnect = new Map<string, number>();

  constructor(private readonly queueTimeoutMs = 10_000) {}

  /** Adds a connection for a tunnel; the first one makes the tunnel live. */
  addConnection(record: TunnelRecord, conn: TunnelConnection): void {
    let live = this.tunnels.get(record.id);
    this.lastDisconnect.delete(record.id);
    if (!live) {
      live = { record, conns: new Set() };
      this.tunnels.set(record.id, live);
      const k = nameKey(record.ownerId, record.name);
      const ids = this.byName.get(k) ?? new Set<string>();
      ids.add(record.id);
      this.byName.set(k, ids);
    }
    live.conns.add(conn);
    conn.onChange = () => this.wake();
    conn.onClose(() => this.removeConnection(conn));
  }

  removeConnection(conn: TunnelConnection): void {
    const live = this.tunnels.get(conn.tunnelId);
    if (!live || !live.conns.delete(conn)) return;
    if (live.conns.size === 0) this.forget(conn.tunnelId);
    this.wake();
  }

  private forget(tunnelId: string): void {
    const live = this.tunnels.get(tunnelId);
    if (!live) return;
    this.tunnels.delete(tunnelId);
    this.lastDisconnect.set(tunnelId, Date.now());
    const k = nameKey(live.record.ownerId, live.record.name);
    const ids = this.byName.get(k);
    ids?.delete(tunnelId);
    if (ids && ids.size === 0) this.byName.delete(k);
  }

  /** When the tunnel's last connection closed (ms since the epoch), if it has none now. */
  disconnectedAt(tunnelId: string): number | undefined {
    return this.lastDisconnect.get(tunnelId);
  }

  /** Forgets the disconnection times of tunnels not in `running`. */
  keepDisconnected(running: Set<string>): void {
    for (const id of this.lastDisconnect.keys()) if (!running.has(id)) this.lastDisconnect.delete(id);
  }

  /** Forgets a tunnel's disconnection time (it was ended). */
  ended(tunnelId: string): void {
    this.lastDisconnect.delete(tunnelId);
  }

  get(tunnelId: string): LiveTunnel | undefined {
    return this.tunnels.get(tunnelId);
  }

  /** Live members of the pool (or the single tunnel) named `name` of `ownerId`. */
  members(ownerId: string, name: string): LiveTunnel[] {
    const ids = this.byName.get(nameKey(ownerId, name));
    return ids ? [...ids].map((id) => this.tunnels.get(id)!).filter(Boolean) : [];
  }

  isLive(tunnelId: string): boolean {
    return [...(this.tunnels.get(tunnelId)?.conns ?? [])].some((c) => c.usable);
  }

  usableConnections(tunnelId: string): number {
    return [...(this.tunnels.get(tunnelId)?.conns ?? [])].filter((c) => c.usable).length;
  }

  all(): LiveTunnel[] {
    return [...this.tunnels.values()];
  }

  private pick(
    key: string,
    extra?: Map<TunnelConnection, number>,
  ): TunnelConnection | 'unavailable' | 'busy' {
    const ids = this.byName.get(key);
    let best: TunnelConnection | undefined;
    let anyUsable = false;
    for (const id of ids ?? []) {
      for (const c of this.tunnels.get(id)?.conns ?? []) {
        if (!c.usable) continue;
        anyUsable = true;
        const load = c.openStreams + (extra?.get(c) ?? 0);
        if (load >= c.maxStreams) continue;
        if (!best || load < best.openStreams + (extra?.get(best) ?? 0)) best = c;
      }
    }
    return best ?? (anyUsable ? 'busy' : 'unavailable');
  }

  /**
   * A connection for a new stream to tunnel `name` of `ownerId`. Rejects with RouteError tunnel_unavailable at
   * once when no member has a usable connection, or tunnel_capacity after waiting `queueTimeoutMs` for a slot.
   */
  acquire(ownerId: string, name: string): Promise<TunnelConnection> {
    const key = nameKey(ownerId, name);
    const got = this.pick(key);
    if (got === 'unavailable') return Promise.reject(new RouteError('tunnel_unavailable'));
    if (got !== 'busy') return Promise.resolve(got);
    return new Promise((resolve, reject) => {
      const w: Waiter = {
        key,
        resolve,
        reject,
        timer: setTimeout(() => {
          this.waiters = this.waiters.filter((x) => x !== w);
          reject(new RouteError('tunnel_capacity'));
        }, this.queueTimeoutMs),
      };
      this.waiters.push(w);
    });
  }

  /** Hands freed capacity to waiting requests, oldest first; fails those whose tunnel has gone. */
  private wake(): void {
    if (this.waiters.length === 0) return;
    const still: Waiter[] = [];
    // Streams handed out in this pass are opened a microtask later: count them so one free slot serves one waiter.
    const extra = new Map<TunnelConnection, number>();
    for (const w of this.waiters) {
      const got = this.pick(w.key, extra);
      if (got === 'busy') {
        still.push(w);
        continue;
      }
      clearTimeout(w.timer);
      if (got === 'unavailable') w.reject(new RouteError('tunnel_unavailable'));
      else {
        extra.set(got, (extra.get(got) ?? 0) + 1);
        w.resolve(got);
      }
    }
    this.waiters = still;
  }

  /** Stream counts per connection, for metrics and /info. */
  stats(): { tunnels: number; connections: number; streams: number } {
    let connections = 0;
    let streams = 0;
    for (const t of this.tunnels.values()) {
      connections += t.conns.size;
      for (const c of t.conns) streams += c.openStreams;
    }
    return { tunnels: this.tunnels.size, connections, streams };
  }
}
