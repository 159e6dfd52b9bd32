/**
 * Tunnel lifecycle on the server: create (with SC5's replacement rule), stop, and expire tunnels whose client
 * went away. The store keeps the durable record; the registry knows which are live right now.
 */
import { randomBytes } from 'node:crypto';
import type { Logger } from '../../observability/log.js';
import type { Registry } from '../registry/registry.js';
import type { Connection } from '../registry/tunnel-connection.js';
import type { Account, NewTunnel, Store, TunnelRecord } from '../store/types.js';

/** What a client asks for when it creates a tunnel (the SC5 create body, parsed). */
export type CreateTunnelInput = Pick<
  TunnelRecord,
  | 'name'
  | 'tunnelPool'
  | 'shared'
  | 'metadata'
  | 'tunnelDomains'
  | 'directDomains'
  | 'denyDomains'
  | 'tlsResignDomains'
  | 'tlsPassthroughDomains'
>;

export interface TunnelServiceDeps {
  store: Store;
  registry: Registry;
  log: Logger;
  hashToken: (token: string) => string;
  /** A running tunnel with no connection for this long is terminated (client_disconnected). */
  graceMs: number;
  /** Running tunnels per account and per org; 0 = no limit. */
  quotas?: { perUser: number; perOrg: number };
  /** Terminated tunnels are deleted this long after they stopped (ms); 0 = kept for ever. */
  retentionMs?: number;
  now?: () => number;
}

/** A create that would exceed a tunnel quota; `quota` names the setting. */
export class QuotaError extends Error {
  override readonly name = 'QuotaError';
  constructor(
    readonly quota: 'max-tunnels-per-user' | 'max-tunnels-per-org',
    readonly limit: number,
    message: string,
  ) {
    super(message);
  }
}

export class TunnelService {
  private reaper: NodeJS.Timeout | undefined;
  private readonly startedAt: number;
  private readonly now: () => number;

  constructor(private readonly deps: TunnelServiceDeps) {
    this.now = deps.now ?? (() => Math.floor(Date.now() / 1000));
    this.startedAt = this.now();
  }

  /** Creates a tunnel; returns the record and the connection token (shown only here). */
  async create(
    owner: Account,
    input: CreateTunnelInput,
  ): Promise<{ record: TunnelRecord; token: string; replaced: string[] }> {
    const { store, log } = this.deps;
    const token = randomBytes(32).toString('base64url');
    const t: NewTunnel = {
      id: randomBytes(16).toString('hex'),
      owner: owner.username,
      ownerId: owner.id,
      ...input,
      tokenHash: this.deps.hashToken(token),
      creationTime: this.now(),
    };
    // SC5: a new tunnel replaces running ones of the same owner and name, unless both are pool members.
    const running = await store.listTunnels({ ownerId: owner.id, status: 'running', name: input.name });
    const replacing = running.filter(
      (old) => old.name === input.name && !(old.tunnelPool && input.tunnelPool),
    );
    await this.checkQuotas(owner, replacing.length);
    const replaced: string[] = [];
    for (const old of replacing) {
      await this.stop(old, 'replaced', false, `replaced by a newer tunnel named "${input.name}" (${t.id})`);
      replaced.push(old.id);
    }
    const record = await store.insertTunnel(t);
    log.info('tunnel created', {
      id: record.id,
      name: record.name,
      owner: record.owner,
      pool: record.tunnelPool,
      replaced,
    });
    return { record, token, replaced };
  }

  /** Throws QuotaError when one more running tunnel (after `freed` are replaced) would pass a quota. */
  private async checkQuotas(owner: Account, freed: number): Promise<void> {
    const { perUser = 0, perOrg = 0 } = this.deps.quotas ?? {};
    if (perUser === 0 && perOrg === 0) return;
    const all = await this.deps.store.listTunnels({ status: 'running' });
    const mine = all.filter((t) => t.ownerId === owner.id).length - freed;
    if (perUser > 0 && mine >= perUser) {
      throw new QuotaError(
        'max-tunnels-per-user',
        perUser,
        `tunnel quota reached: ${owner.username} already has ${mine} running tunnel(s), the limit of ` +
          `max-tunnels-per-user (${perUser}); stop one first`,
      );
    }
    if (perOrg > 0) {
      const orgOf = new Map<string, string | undefined>();
      let inOrg = -freed;
      for (const t of all) {
        if (!orgOf.has(t.ownerId))
          orgOf.set(t.ownerId, (await this.deps.store.getAccountById(t.ownerId))?.orgId);
        if (orgOf.get(t.ownerId) === owner.orgId) inOrg++;
      }
      if (inOrg >= perOrg) {
        throw new QuotaError(
          'max-tunnels-per-org',
          perOrg,
          `tunnel quota reached: the org already has ${inOrg} running tunnel(s), the limit of ` +
            `max-tunnels-per-org (${perOrg}); stop one first`,
        );
      }
    }
  }

  /** Terminates a tunnel and tells its client why; in-flight streams finish (GOAWAY). */
  async stop(record: TunnelRecord, reason: string, userShutdown: boolean, message = reason): Promise<void> {
    if (record.status === 'running') {
      await this.deps.store.terminateTunnel(record.id, reason, userShutdown, this.now());
    }
    const live = this.deps.registry.get(record.id);
    if (!live) return;
    this.deps.log.info('stopping tunnel', { id: record.id, name: record.name, reason });
    const conns = [...live.conns];
    for (const c of conns) c.usable = false;
    // Tell the client why, then drain; nobody waits for its answer (a replacing tunnel must not stall on it).
    void this.notifyAndDrain(conns, { reason, message });
  }

  private async notifyAndDrain(conns: Connection[], msg: { reason: string; message: string }): Promise<void> {
    // One acknowledged message is enough: the client stops as a whole.
    for (const c of conns) if (await c.control('shutdown', msg, 2000)) break;
    for (const c of conns) c.drain();
  }

  /** Ends running tunnels whose client has not been connected for the grace period. */
  async reap(): Promise<void> {
    const { store, registry, graceMs } = this.deps;
    const now = this.now();
    const running = await store.listTunnels({ status: 'running' });
    // Tunnels ended another way (deleted, replaced) need no disconnection time any more.
    registry.keepDisconnected(new Set(running.map((t) => t.id)));
    for (const t of running) {
      if (registry.get(t.id)) continue;
      // The grace counts from the moment the last connection closed (last_connected is when it connected).
      const gone = registry.disconnectedAt(t.id);
      const since = Math.max(
        t.lastConnected ?? t.creationTime,
        t.creationTime,
        this.startedAt,
        gone === undefined ? 0 : Math.floor(gone / 1000),
      );
      if ((now - since) * 1000 >= graceMs) {
        registry.ended(t.id);
        this.deps.log.info('tunnel expired: client not connected', {
          id: t.id,
          name: t.name,
          owner: t.owner,
        });
        await store.terminateTunnel(t.id, 'client_disconnected', false, now);
      }
    }
    const retentionMs = this.deps.retentionMs ?? 0;
    if (retentionMs > 0) {
      const pruned = await store.pruneTunnels(now - Math.floor(retentionMs / 1000));
      if (pruned > 0) this.deps.log.info('stopped tunnels pruned from history', { count: pruned });
    }
  }

  startReaper(
    everyMs = Math.min(
      10_000,
      Math.max(500, Math.min(this.deps.graceMs, this.deps.retentionMs || Infinity) / 4),
    ),
  ): void {
    this.reaper = setInterval(() => {
      this.reap().catch((err: unknown) => this.deps.log.error('reaper failed', { error: err }));
    }, everyMs);
    this.reaper.unref();
  }

  stopReaper(): void {
    clearInterval(this.reaper);
  }
}
