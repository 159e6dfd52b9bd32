/**
 * Which tunnels are live, on which connections, and where the next stream goes.
 *
 * A tunnel is addressed by (owner account, tunnel name); several tunnels with one name form a pool. A new stream
 * goes to the usable connection with the fewest open streams across every member of the pool, which spreads load
 * over members and connections alike and steers around slow ones. When every connection is at its stream limit,
 * requests wait in a FIFO queue for a bounded time, then fail with 503 tunnel_capacity.
 *
 * In a cluster (docs/cluster.md) the registry also holds other nodes' connections (RemoteConnection, kept in step
 * with the store's leases by src/server/cluster/): a stream goes to a local connection with room first, and only
 * then over the node link. Without a cluster there are no remote connections and nothing changes.
 */
import type { TunnelRecord } from '../store/types.js';
import type { ProxyErrorCode } from '../../protocol/errors.js';
import type { Connection } from './tunnel-connection.js';

export class RouteError extends Error {
  constructor(readonly code: ProxyErrorCode) {
    super(code);
  }
}

export interface LiveTunnel {
  record: TunnelRecord;
  conns: Set<Connection>;
}

interface Waiter {
  key: string;
  resolve: (c: Connection) => void;
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

  /** Told when this node's own connections come and go (a cluster publishes them as leases). */
  observer: { added(conn: Connection): void; removed(conn: Connection): void } | null = null;

  /**
   * @param queueTimeoutMs how long a request waits for a free stream slot
   * @param waitForReconnect in a cluster: a request for a tunnel with no usable connection anywhere waits up to
   *   queueTimeoutMs for one (its client is moving to another node) instead of failing at once
   */
  constructor(
    private readonly queueTimeoutMs = 10_000,
    private readonly waitForReconnect = false,
  ) {}

  /** Adds a connection for a tunnel; the first one makes the tunnel live. */
  addConnection(record: TunnelRecord, conn: Connection): void {
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
    if (!conn.viaNode) this.observer?.added(conn);
  }

  removeConnection(conn: Connection): void {
    const live = this.tunnels.get(conn.tunnelId);
    if (!live || !live.conns.delete(conn)) return;
    if (!conn.viaNode) this.observer?.removed(conn);
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

  private pick(key: string, extra?: Map<Connection, number>): Connection | 'unavailable' | 'busy' {
    const ids = this.byName.get(key);
    let best: Connection | undefined;
    let bestLoad = 0;
    let anyUsable = false;
    for (const id of ids ?? []) {
      for (const c of this.tunnels.get(id)?.conns ?? []) {
        if (!c.usable) continue;
        anyUsable = true;
        const load = c.openStreams + (extra?.get(c) ?? 0);
        if (load >= c.maxStreams) continue;
        // A connection on this node beats one behind the node link (no extra hop); then the fewest streams.
        if (!best || (best.viaNode && !c.viaNode) || (best.viaNode === c.viaNode && load < bestLoad)) {
          best = c;
          bestLoad = load;
        }
      }
    }
    return best ?? (anyUsable ? 'busy' : 'unavailable');
  }

  /**
   * A connection of this node for a stream another node sends over the node link: the least-loaded usable local
   * one of tunnel `tunnelId` with room, or null (the sender then routes again).
   */
  localFor(tunnelId: string): Connection | null {
    let best: Connection | null = null;
    for (const c of this.tunnels.get(tunnelId)?.conns ?? []) {
      if (c.viaNode || !c.usable || c.openStreams >= c.maxStreams) continue;
      if (!best || c.openStreams < best.openStreams) best = c;
    }
    return best;
  }

  /** Connections held by this node (not other nodes' connections). */
  localConnections(): Connection[] {
    const out: Connection[] = [];
    for (const t of this.tunnels.values()) for (const c of t.conns) if (!c.viaNode) out.push(c);
    return out;
  }

  /**
   * A connection for a new stream to tunnel `name` of `ownerId`. Rejects with RouteError tunnel_unavailable at
   * once when no member has a usable connection (in a cluster: after waiting `queueTimeoutMs` for one), or
   * tunnel_capacity after waiting `queueTimeoutMs` for a slot.
   */
  acquire(ownerId: string, name: string): Promise<Connection> {
    const key = nameKey(ownerId, name);
    const got = this.pick(key);
    if (got === 'unavailable' && !this.waitForReconnect)
      return Promise.reject(new RouteError('tunnel_unavailable'));
    if (got !== 'busy' && got !== 'unavailable') return Promise.resolve(got);
    return new Promise((resolve, reject) => {
      const w: Waiter = {
        key,
        resolve,
        reject,
        timer: setTimeout(() => {
          this.waiters = this.waiters.filter((x) => x !== w);
          reject(new RouteError(this.pick(key) === 'unavailable' ? 'tunnel_unavailable' : 'tunnel_capacity'));
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
    const extra = new Map<Connection, number>();
    for (const w of this.waiters) {
      const got = this.pick(w.key, extra);
      if (got === 'busy') {
        still.push(w);
        continue;
      }
      clearTimeout(w.timer);
      if (got === 'unavailable' && this.waitForReconnect) still.push(w);
      else if (got === 'unavailable') w.reject(new RouteError('tunnel_unavailable'));
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
