/**
 * The cluster's shared bookkeeping in the store (migration 0004_cluster): which nodes are up and which node holds
 * which tunnel connection, each row with an expiry its node's heartbeat pushes ahead. Plain Kysely within what
 * SQLite and PostgreSQL share (no upserts, no RETURNING), so the unit tests run it on SQLite; a cluster runs it on
 * PostgreSQL, where `notify` and `subscribe` use LISTEN/NOTIFY (directory-postgres.ts).
 */
import type { Kysely } from 'kysely';

export interface ClusterSchema {
  cluster_nodes: {
    id: string;
    link_address: string;
    public_address: string;
    started_at: number | string;
    draining: number;
    expires_at: number | string;
  };
  cluster_leases: {
    conn_id: string;
    tunnel_id: string;
    node_id: string;
    max_streams: number;
    expires_at: number | string;
  };
}

export interface NodeRow {
  id: string;
  /** host:port of its node link, as other nodes dial it. */
  linkAddress: string;
  /** host:port of its tunnel edge as clients reach it one by one; '' when it has none (only a balancer). */
  publicAddress: string;
  startedAt: number;
  draining: boolean;
  expiresAt: number;
}

export interface LeaseRow {
  connId: string;
  tunnelId: string;
  nodeId: string;
  maxStreams: number;
  expiresAt: number;
}

export interface ClusterView {
  nodes: NodeRow[];
  leases: LeaseRow[];
}

/** Change notifications between nodes: LISTEN/NOTIFY on PostgreSQL; none elsewhere (the poll then does it). */
export interface ClusterSignal {
  notify(): Promise<void>;
  /** Calls `fn` on every notification; resolves to a function that stops listening. */
  subscribe(fn: () => void): Promise<() => Promise<void>>;
}

export const NO_SIGNAL: ClusterSignal = {
  notify: () => Promise.resolve(),
  subscribe: () => Promise.resolve(() => Promise.resolve()),
};

export class ClusterDirectory {
  constructor(
    private readonly db: Kysely<ClusterSchema>,
    readonly signal: ClusterSignal = NO_SIGNAL,
    private readonly onClose: () => Promise<void> = () => Promise.resolve(),
  ) {}

  /** Adds this node (a fresh id at every start). */
  async addNode(n: NodeRow): Promise<void> {
    await this.db
      .insertInto('cluster_nodes')
      .values({
        id: n.id,
        link_address: n.linkAddress,
        public_address: n.publicAddress,
        started_at: n.startedAt,
        draining: n.draining ? 1 : 0,
        expires_at: n.expiresAt,
      })
      .execute();
    await this.signal.notify();
  }

  /**
   * Pushes the expiry of the node and all its leases to `expiresAt`. False when the node's row is gone (another
   * node swept it after a pause longer than the lease time): the caller adds it and its leases again.
   */
  async heartbeat(nodeId: string, expiresAt: number): Promise<boolean> {
    const r = await this.db
      .updateTable('cluster_nodes')
      .set({ expires_at: expiresAt })
      .where('id', '=', nodeId)
      .executeTakeFirst();
    await this.db
      .updateTable('cluster_leases')
      .set({ expires_at: expiresAt })
      .where('node_id', '=', nodeId)
      .execute();
    return Number(r.numUpdatedRows) > 0;
  }

  async setDraining(nodeId: string): Promise<void> {
    await this.db.updateTable('cluster_nodes').set({ draining: 1 }).where('id', '=', nodeId).execute();
    await this.signal.notify();
  }

  async addLease(l: LeaseRow): Promise<void> {
    await this.db
      .insertInto('cluster_leases')
      .values({
        conn_id: l.connId,
        tunnel_id: l.tunnelId,
        node_id: l.nodeId,
        max_streams: l.maxStreams,
        expires_at: l.expiresAt,
      })
      .execute();
    await this.signal.notify();
  }

  async removeLease(connId: string): Promise<void> {
    await this.db.deleteFrom('cluster_leases').where('conn_id', '=', connId).execute();
    await this.signal.notify();
  }

  /** Removes a node and its leases (its clean stop). */
  async removeNode(nodeId: string): Promise<void> {
    await this.db.deleteFrom('cluster_leases').where('node_id', '=', nodeId).execute();
    await this.db.deleteFrom('cluster_nodes').where('id', '=', nodeId).execute();
    await this.signal.notify();
  }

  /** Nodes and leases not expired at `now` (ms). */
  async view(now: number): Promise<ClusterView> {
    const nodes = await this.db
      .selectFrom('cluster_nodes')
      .selectAll()
      .where('expires_at', '>', now)
      .orderBy('started_at')
      .orderBy('id')
      .execute();
    const leases = await this.db
      .selectFrom('cluster_leases')
      .selectAll()
      .where('expires_at', '>', now)
      .orderBy('conn_id')
      .execute();
    return {
      nodes: nodes.map((n) => ({
        id: n.id,
        linkAddress: n.link_address,
        publicAddress: n.public_address,
        startedAt: Number(n.started_at),
        draining: Number(n.draining) !== 0,
        expiresAt: Number(n.expires_at),
      })),
      leases: leases.map((l) => ({
        connId: l.conn_id,
        tunnelId: l.tunnel_id,
        nodeId: l.node_id,
        maxStreams: Number(l.max_streams),
        expiresAt: Number(l.expires_at),
      })),
    };
  }

  /** Deletes rows that expired before `before` (ms): dead nodes' leftovers. Returns how many leases went. */
  async sweep(before: number): Promise<number> {
    const r = await this.db.deleteFrom('cluster_leases').where('expires_at', '<', before).executeTakeFirst();
    await this.db.deleteFrom('cluster_nodes').where('expires_at', '<', before).execute();
    return Number(r.numDeletedRows);
  }

  close(): Promise<void> {
    return this.onClose();
  }
}
