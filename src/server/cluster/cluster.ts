/**
 * This node's part in a cluster (docs/cluster.md, decisions/0015): its row and its connections' leases in the
 * store, renewed by a heartbeat; the other nodes' leases as RemoteConnections in the registry, reloaded on every
 * LISTEN/NOTIFY signal and by a slow poll; the node link (node-link.ts) both ways; and draining before a stop.
 */
import { createHmac, randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../../observability/log.js';
import type { ControlOp } from '../../protocol/tunnel-protocol.js';
import { formatAddress, type ListenAddress } from '../address.js';
import type { Registry } from '../registry/registry.js';
import type { Connection } from '../registry/tunnel-connection.js';
import type { Store, TunnelRecord } from '../store/types.js';
import type { ClusterDirectory, ClusterView, LeaseRow } from './directory.js';
import { createNodeLinkServer, PeerLinks, type NodeLinkServer } from './node-link.js';
import { RemoteConnection } from './remote-connection.js';

export interface ClusterConfig {
  /** Where the node link listens (--node-address). */
  nodeAddress: ListenAddress;
  /** host:port other nodes dial for the node link (--node-advertise-address); default: the listening address. */
  advertiseAddress?: string;
  /** host:port of this node's tunnel edge as clients reach it one by one (--node-public-address); '' = none. */
  publicAddress?: string;
  /** A lease not renewed this long expires (ms; default 10 s). */
  leaseMs?: number;
  /** Lease renewal (ms; default 2 s). */
  heartbeatMs?: number;
  /** Full reload of the other nodes' leases even without a notification (ms; default 5 s). */
  pollMs?: number;
}

export interface ClusterDeps {
  registry: Registry;
  store: Store;
  directory: ClusterDirectory;
  log: Logger;
  secret: Buffer;
  caPem: string;
  /** The node's certificate (from the shared CA) for the node link. */
  tls: { cert: string; key: string };
}

/** A node as the REST API names it to clients (the `nodes` field of a created tunnel). */
export interface PublicNode {
  id: string;
  edge_address: string;
}

/** The CA or server secret of this node differs from the one the cluster's first node recorded. */
export class ClusterMismatchError extends Error {
  override readonly name = 'ClusterMismatchError';
}

const SETTING_CA = 'cluster_ca_fingerprint';
const SETTING_SECRET = 'cluster_secret_check';

/**
 * Checks that this node has the cluster's CA and server secret (docs/cluster.md: the same files mounted on every
 * node); the first node records their fingerprints.
 */
export async function checkSharedSecrets(store: Store, caFingerprint: string, secret: Buffer): Promise<void> {
  const check = createHmac('sha256', secret).update('sluice cluster secret check').digest('hex');
  const ca = await store.getSetting(SETTING_CA);
  const sec = await store.getSetting(SETTING_SECRET);
  if (ca && ca !== caFingerprint)
    throw new ClusterMismatchError(
      `this node's certificate authority (${caFingerprint}) is not the cluster's (${ca}): mount the same ` +
        "ca.pem and ca-key.pem in every node's data directory (docs/cluster.md)",
    );
  if (sec && sec !== check)
    throw new ClusterMismatchError(
      "this node's server secret is not the cluster's: mount the same server-secret file in every node's data " +
        'directory (docs/cluster.md)',
    );
  if (!ca) await store.setSetting(SETTING_CA, caFingerprint);
  if (!sec) await store.setSetting(SETTING_SECRET, check);
}

export class Cluster {
  readonly nodeId = randomUUID();
  private readonly leaseMs: number;
  private readonly heartbeatMs: number;
  private readonly pollMs: number;
  private readonly remotes = new Map<string, RemoteConnection>();
  /** Nodes whose link failed: their leases are ignored until then (ms), by when they have expired if it died. */
  private readonly suspects = new Map<string, number>();
  private view: ClusterView = { nodes: [], leases: [] };
  private readonly peers: PeerLinks;
  private link: NodeLinkServer | null = null;
  private timers: NodeJS.Timeout[] = [];
  private unsubscribe: () => Promise<void> = () => Promise.resolve();
  /** Lease writes, in order (a connection that closes at once must not leave its lease behind). */
  private ops: Promise<void> = Promise.resolve();
  private syncing = false;
  private again = false;
  private syncTimer: NodeJS.Timeout | undefined;
  draining = false;
  advertised = '';

  constructor(
    private readonly cfg: ClusterConfig,
    private readonly deps: ClusterDeps,
  ) {
    this.leaseMs = cfg.leaseMs ?? 10_000;
    this.heartbeatMs = cfg.heartbeatMs ?? 2_000;
    this.pollMs = cfg.pollMs ?? Math.min(5_000, this.leaseMs);
    this.peers = new PeerLinks({
      caPem: deps.caPem,
      secret: deps.secret,
      log: deps.log,
      keepalive: { intervalMs: this.heartbeatMs * 2, timeoutMs: this.leaseMs },
      onPeerDown: (id, draining) => this.peerDown(id, draining),
    });
  }

  async start(): Promise<void> {
    const { registry, directory, log } = this.deps;
    this.link = createNodeLinkServer({
      registry,
      log,
      secret: this.deps.secret,
      tls: this.deps.tls,
      onControl: (tunnelId, op, body) => this.controlLocal(tunnelId, op, body),
      onDrain: (tunnelId) => {
        for (const c of this.localOf(tunnelId)) c.drain();
      },
    });
    const addr = await new Promise<AddressInfo>((resolve, reject) => {
      const server = this.link!.server;
      server.once('error', reject);
      server.listen(this.cfg.nodeAddress.port, this.cfg.nodeAddress.host, () => {
        server.off('error', reject);
        resolve(server.address() as AddressInfo);
      });
    });
    const wildcard = this.cfg.nodeAddress.host === '0.0.0.0' || this.cfg.nodeAddress.host === '::';
    this.advertised =
      this.cfg.advertiseAddress || formatAddress(wildcard ? '127.0.0.1' : addr.address, addr.port);
    await directory.addNode({
      id: this.nodeId,
      linkAddress: this.advertised,
      publicAddress: this.cfg.publicAddress ?? '',
      startedAt: Date.now(),
      draining: false,
      expiresAt: Date.now() + this.leaseMs,
    });
    registry.observer = {
      added: (c) => this.queue(() => directory.addLease(this.leaseOf(c))),
      removed: (c) => this.queue(() => directory.removeLease(c.id)),
    };
    for (const c of registry.localConnections()) this.queue(() => directory.addLease(this.leaseOf(c)));
    this.unsubscribe = await directory.signal.subscribe(() => this.scheduleSync(50));
    this.timers.push(setInterval(() => void this.heartbeat(), this.heartbeatMs));
    this.timers.push(setInterval(() => this.scheduleSync(0), this.pollMs));
    for (const t of this.timers) t.unref();
    await this.sync();
    log.info('cluster node started', {
      node: this.nodeId,
      link: this.advertised,
      public_address: this.cfg.publicAddress ?? '',
    });
  }

  private leaseOf(c: Connection): LeaseRow {
    return {
      connId: c.id,
      tunnelId: c.tunnelId,
      nodeId: this.nodeId,
      maxStreams: c.maxStreams,
      expiresAt: Date.now() + this.leaseMs,
    };
  }

  private queue(fn: () => Promise<void>): void {
    this.ops = this.ops
      .then(fn)
      .catch((err: unknown) => this.deps.log.warn('cluster lease write failed', { error: err }));
  }

  private localOf(tunnelId: string): Connection[] {
    return [...(this.deps.registry.get(tunnelId)?.conns ?? [])].filter((c) => !c.viaNode);
  }

  private async controlLocal(tunnelId: string, op: ControlOp, body: unknown): Promise<boolean> {
    for (const c of this.localOf(tunnelId)) if (await c.control(op, body, 2000)) return true;
    return false;
  }

  private async heartbeat(): Promise<void> {
    const { directory, log } = this.deps;
    const now = Date.now();
    try {
      const present = await directory.heartbeat(this.nodeId, now + this.leaseMs);
      // Remove what dead nodes left (a lease time past expiry: clocks differ a little).
      await directory.sweep(now - this.leaseMs);
      if (!present) {
        // Swept while we could not renew (a long pause, the database away): come back with every lease.
        log.warn('cluster node row was gone, adding it and its leases again', { node: this.nodeId });
        await directory.addNode({
          id: this.nodeId,
          linkAddress: this.advertised,
          publicAddress: this.cfg.publicAddress ?? '',
          startedAt: now,
          draining: this.draining,
          expiresAt: now + this.leaseMs,
        });
        for (const c of this.deps.registry.localConnections())
          this.queue(async () => {
            await directory.removeLease(c.id);
            if (!c.closed) await directory.addLease(this.leaseOf(c));
          });
      }
    } catch (err) {
      log.warn('cluster heartbeat failed', { error: (err as Error).message });
    }
  }

  private scheduleSync(delayMs: number): void {
    if (this.syncTimer) return;
    this.syncTimer = setTimeout(() => {
      this.syncTimer = undefined;
      this.sync().catch((err: unknown) =>
        this.deps.log.warn('cluster reload failed', { error: (err as Error).message }),
      );
    }, delayMs);
    this.syncTimer.unref();
  }

  /** Reloads nodes and leases and brings the registry's remote connections in line. */
  async sync(): Promise<void> {
    if (this.syncing) {
      this.again = true;
      return;
    }
    this.syncing = true;
    try {
      do {
        this.again = false;
        await this.syncOnce();
      } while (this.again);
    } finally {
      this.syncing = false;
    }
  }

  private async syncOnce(): Promise<void> {
    const now = Date.now();
    const view = await this.deps.directory.view(now);
    this.view = view;
    const nodes = new Map(view.nodes.map((n) => [n.id, n]));
    const wanted = new Map<string, LeaseRow>();
    for (const l of view.leases) {
      if (l.nodeId === this.nodeId || !nodes.has(l.nodeId)) continue;
      if ((this.suspects.get(l.nodeId) ?? 0) > now) continue;
      wanted.set(l.connId, l);
    }
    for (const [id, rc] of this.remotes) {
      if (wanted.has(id)) continue;
      this.remotes.delete(id);
      rc.destroy();
    }
    for (const [id, l] of wanted) {
      const node = nodes.get(l.nodeId)!;
      let rc = this.remotes.get(id);
      if (!rc) {
        const record: TunnelRecord | null = await this.deps.store.getTunnel(l.tunnelId);
        if (!record || record.status !== 'running' || this.remotes.has(id)) continue;
        // Open the link now, so that a peer that is gone is known before a request needs it.
        this.peers.session(node.id, node.linkAddress);
        rc = new RemoteConnection(id, l.tunnelId, l.maxStreams, node.id, node.linkAddress, this.peers);
        this.remotes.set(id, rc);
        rc.usable = !node.draining;
        this.deps.registry.addConnection(record, rc);
        rc.onChange();
      } else if (node.draining && rc.usable) {
        rc.usable = false;
        rc.onChange();
      }
    }
  }

  private peerDown(nodeId: string, draining: boolean): void {
    for (const [id, rc] of this.remotes) {
      if (rc.nodeId !== nodeId) continue;
      if (draining) {
        rc.usable = false;
        rc.onChange();
      } else {
        this.remotes.delete(id);
        rc.destroy();
      }
    }
    if (!draining) {
      this.suspects.set(nodeId, Date.now() + this.leaseMs + this.heartbeatMs);
      this.deps.log.info('cluster peer unreachable, its connections are out of routing', { node: nodeId });
    }
  }

  /** The nodes clients may connect to one by one, for the REST API (draining ones left out). */
  publicNodes(): PublicNode[] {
    const now = Date.now();
    return this.view.nodes
      .filter(
        (n) =>
          n.publicAddress &&
          !n.draining &&
          (n.id === this.nodeId ? !this.draining : (this.suspects.get(n.id) ?? 0) <= now),
      )
      .map((n) => ({ id: n.id, edge_address: n.publicAddress }));
  }

  /** This node's own tunnel connections still open (draining waits for them to move away). */
  localBusy(): number {
    return this.deps.registry.localConnections().length;
  }

  /** Streams other nodes are sending through this node now. */
  inFlight(): number {
    return this.link?.inFlight() ?? 0;
  }

  /**
   * Step one of a stop: marked draining in the store (left out of `nodes`, peers stop routing here), GOAWAY to
   * every local tunnel connection (their clients redial other nodes while in-flight streams finish) and to every
   * peer session.
   */
  async drain(): Promise<void> {
    if (this.draining) return;
    this.draining = true;
    await this.deps.directory
      .setDraining(this.nodeId)
      .catch((err: unknown) =>
        this.deps.log.warn('cannot mark the node draining', { error: (err as Error).message }),
      );
    for (const c of this.deps.registry.localConnections()) c.drain();
    this.link?.drain();
  }

  /** Leaves the cluster: timers stop, the node's rows go, links close. */
  async close(): Promise<void> {
    for (const t of this.timers) clearInterval(t);
    clearTimeout(this.syncTimer);
    this.deps.registry.observer = null;
    await this.ops;
    await this.unsubscribe();
    await this.deps.directory
      .removeNode(this.nodeId)
      .catch((err: unknown) =>
        this.deps.log.warn('cannot remove the node from the store', { error: (err as Error).message }),
      );
    for (const rc of this.remotes.values()) rc.destroy();
    this.remotes.clear();
    this.peers.close();
    await this.link?.close();
    await this.deps.directory.close();
  }
}
