/**
 * Tunnels REST API in Sauce Labs' shapes:
 *   POST   /rest/v1/:user/tunnels               create (CreateTunnelRequestV5 body)
 *   GET    /rest/v1/:user/tunnels               ids; ?full=true objects
 *   GET    /rest/v1/:user/tunnels/:id           one tunnel
 *   DELETE /rest/v1/:user/tunnels/:id           stop ({"result":true,"id","jobs_running":n})
 *   GET    /rest/v1/:user/tunnels/:id/num_jobs      live WebDriver gateway sessions on it
 *   GET    /rest/v1/:user/all_tunnels?limit=n   history
 *   GET    /rest/v1/public/tunnels/info/versions
 *   GET    /rest/v1/public/tunnels/info/resign-ca   (the TLS resigning CA certificate, docs/routing.md)
 */
import type { Logger } from '../../observability/log.js';
import type { Registry } from '../registry/registry.js';
import type { Account, Store, TunnelRecord } from '../store/types.js';
import { QuotaError, type CreateTunnelInput, type TunnelService } from '../tunnels/tunnel-service.js';
import {
  canShareTunnel,
  canStartTunnel,
  canStopTunnel,
  canUseTunnel,
  type MemberSharing,
} from '../accounts/permissions.js';
import { RestError, type RestContext, type Router } from './router.js';
import { checkDomainRule, DomainRules } from '../routing/domain-rules.js';
import { tunnelJson } from './tunnel-json.js';

export interface TunnelRoutesDeps {
  store: Store;
  registry: Registry;
  tunnels: TunnelService;
  log: Logger;
  /** The tunnel edge as clients must dial it, and the host name reported as `host`. */
  edgeAddress: () => string;
  /** In a cluster: the nodes clients may connect to one by one (the `nodes` field of a created tunnel). */
  clusterNodes?: () => { id: string; edge_address: string }[];
  publicHost: string;
  version: string;
  /** TLS resigning's CA certificate, served to anyone who asks (it is public; its key never leaves the data dir). */
  resignCa?: { certPem: string; fingerprint: string };
  /** What a team member's `--shared all` reaches (sc-server --team-member-sharing). */
  memberSharing: MemberSharing;
}

function stringList(body: Record<string, unknown>, key: string): string[] {
  const v = body[key];
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) {
    throw new RestError(400, 'invalid_request', `${key} must be an array of strings`);
  }
  return v;
}

/** The domain rules compile (RE2) and the exclusive lists are not both set (docs/routing.md). */
function checkRules(input: CreateTunnelInput): void {
  try {
    new DomainRules(input);
  } catch (err) {
    throw new RestError(400, 'invalid_request', (err as Error).message);
  }
  for (const [key, list] of [
    ['tls_resign_domains', input.tlsResignDomains],
    ['tls_passthrough_domains', input.tlsPassthroughDomains],
  ] as const) {
    for (const rule of list) {
      const problem = checkDomainRule(rule);
      if (problem) throw new RestError(400, 'invalid_request', `${key}: ${problem}`);
    }
  }
  if (input.tlsResignDomains.length > 0 && input.tlsPassthroughDomains.length > 0) {
    throw new RestError(
      400,
      'invalid_request',
      'tls_resign_domains and tls_passthrough_domains exclude each other',
    );
  }
}

export function parseCreateBody(raw: unknown): CreateTunnelInput {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new RestError(400, 'invalid_request', 'body must be a JSON object');
  }
  const b = raw as Record<string, unknown>;
  const name = b['tunnel_identifier'] ?? b['tunnel_name'];
  if (typeof name !== 'string' || !/^[\x20-\x7e]{1,256}$/.test(name) || name.trim() === '') {
    throw new RestError(400, 'invalid_request', 'tunnel_identifier must be 1-256 printable ASCII characters');
  }
  const pool = b['tunnel_pool'] ?? false;
  if (typeof pool !== 'boolean') throw new RestError(400, 'invalid_request', 'tunnel_pool must be a boolean');
  const shared = b['shared'] ?? (b['shared_tunnel'] === true ? 'all' : '');
  if (shared !== '' && shared !== 'all')
    throw new RestError(400, 'invalid_request', 'shared must be "all" or ""');
  const metadata = b['metadata'] ?? {};
  if (typeof metadata !== 'object' || metadata === null || Array.isArray(metadata)) {
    throw new RestError(400, 'invalid_request', 'metadata must be an object');
  }
  const input: CreateTunnelInput = {
    name,
    tunnelPool: pool,
    shared,
    metadata: metadata as Record<string, unknown>,
    tunnelDomains: stringList(b, 'tunnel_domains'),
    directDomains: stringList(b, 'direct_domains'),
    denyDomains: stringList(b, 'deny_domains'),
    tlsResignDomains: stringList(b, 'tls_resign_domains'),
    tlsPassthroughDomains: stringList(b, 'tls_passthrough_domains'),
  };
  checkRules(input);
  return input;
}

/** `nodes`: each cluster node's public edge address (docs/cluster.md); absent on a single node. */
function nodesField(deps: TunnelRoutesDeps): { nodes?: { id: string; edge_address: string }[] } {
  const nodes = deps.clusterNodes?.() ?? [];
  return nodes.length ? { nodes } : {};
}

export function registerTunnelRoutes(router: Router, deps: TunnelRoutesDeps): void {
  const { store, registry, tunnels, memberSharing } = deps;
  const mayUse = (me: Account, t: TunnelRecord, owner: Account): boolean =>
    canUseTunnel(me, t, owner, memberSharing);
  const view = (t: TunnelRecord): Record<string, unknown> =>
    tunnelJson({ record: t, connections: registry.usableConnections(t.id), host: deps.publicHost });

  /** Listing and creating act on the caller's own tunnels: the path must name the caller. */
  const self = (ctx: RestContext): Account => {
    const me = ctx.account!;
    if (ctx.params['user'] !== me.username) {
      throw new RestError(403, 'forbidden', `authenticated as ${me.username}, not ${ctx.params['user']}`);
    }
    return me;
  };
  /** A tunnel the caller may see: own, usable through sharing, or stoppable by role. Else 404 (no leak). */
  const visibleTunnel = async (ctx: RestContext, need: 'view' | 'stop'): Promise<TunnelRecord> => {
    const me = ctx.account!;
    const t = await store.getTunnel(ctx.params['id'] ?? '');
    const notFound = new RestError(404, 'tunnel_not_found', `no tunnel ${ctx.params['id']}`);
    if (!t || (ctx.params['user'] !== me.username && ctx.params['user'] !== t.owner)) throw notFound;
    if (t.ownerId === me.id) return t;
    const owner = await store.getAccountByUsername(t.owner);
    if (!owner) throw notFound;
    const mayStop = canStopTunnel(me, t, owner);
    if (need === 'stop' && !mayStop) {
      if (mayUse(me, t, owner)) throw new RestError(403, 'forbidden', `not allowed to stop tunnel ${t.id}`);
      throw notFound;
    }
    if (!mayStop && !mayUse(me, t, owner)) throw notFound;
    return t;
  };

  router.add('POST', '/rest/v1/:user/tunnels', async (ctx) => {
    const owner = self(ctx);
    const input = parseCreateBody(await ctx.body());
    if (!canStartTunnel(owner)) {
      throw new RestError(403, 'role_forbidden', 'service accounts cannot start tunnels');
    }
    const warning: string[] = [];
    if (input.shared === 'all' && !canShareTunnel(owner, memberSharing)) {
      // The seed's rule: team members cannot share. The tunnel still serves its owner; it is stored unshared so
      // that what REST reports is what the proxy entry does.
      input.shared = '';
      warning.push(
        `--shared all ignored: a ${owner.role} cannot share tunnels on this server; this tunnel serves its owner only`,
      );
    }
    let created: Awaited<ReturnType<TunnelService['create']>>;
    try {
      created = await tunnels.create(owner, input);
    } catch (err) {
      if (err instanceof QuotaError) throw new RestError(403, 'quota_exceeded', err.message);
      throw err;
    }
    const { record, token, replaced } = created;
    const info = replaced.length
      ? [`replaced running tunnel(s) with the same name: ${replaced.join(', ')}`]
      : [];
    return {
      body: {
        ...view(record),
        edge_address: deps.edgeAddress(),
        ...nodesField(deps),
        connection_token: token,
        messages: { fatal: [], info, warning },
      },
    };
  });

  router.add('GET', '/rest/v1/:user/tunnels', async (ctx) => {
    const me = self(ctx);
    const full = ctx.query.get('full') === 'true';
    const onePerPool = ctx.query.get('filter') === 'one_per_pool';
    const running = await store.listTunnels({ status: 'running' });
    const owners = new Map<string, Account | null>();
    const visible: TunnelRecord[] = [];
    const all = ctx.query.get('all') === 'true';
    for (const t of running) {
      if (t.ownerId === me.id) {
        visible.push(t);
        continue;
      }
      if (!all) continue;
      if (!owners.has(t.owner)) owners.set(t.owner, await store.getAccountByUsername(t.owner));
      const owner = owners.get(t.owner);
      if (owner && mayUse(me, t, owner)) visible.push(t);
    }
    const seenPools = new Set<string>();
    const picked = visible.filter((t) => {
      if (!onePerPool) return true;
      const key = `${t.ownerId}\u0000${t.name}`;
      if (seenPools.has(key)) return false;
      seenPools.add(key);
      return true;
    });
    const item = (t: TunnelRecord): unknown => (full ? view(t) : t.id);
    if (!all) return { body: picked.map(item) };
    const byUser: Record<string, unknown[]> = {};
    for (const t of picked) (byUser[t.owner] ??= []).push(item(t));
    return { body: byUser };
  });

  router.add('GET', '/rest/v1/:user/tunnels/:id', async (ctx) => ({
    body: view(await visibleTunnel(ctx, 'view')),
  }));

  /** Live WebDriver gateway sessions routed by the tunnel's owner and name (every member of a pool counts them). */
  const jobsRunning = async (t: TunnelRecord): Promise<number> =>
    t.status === 'running'
      ? (await store.listWebDriverSessions({ tunnelOwnerId: t.ownerId, tunnelName: t.name })).length
      : 0;

  router.add('GET', '/rest/v1/:user/tunnels/:id/num_jobs', async (ctx) => {
    const t = await visibleTunnel(ctx, 'view');
    return { body: { id: t.id, jobs_running: await jobsRunning(t) } };
  });

  router.add('DELETE', '/rest/v1/:user/tunnels/:id', async (ctx) => {
    const t = await visibleTunnel(ctx, 'stop');
    const jobs = await jobsRunning(t);
    const reason = ctx.query.get('reason') ?? 'user_shutdown';
    if (!/^[\w.-]{1,64}$/.test(reason))
      throw new RestError(400, 'invalid_request', 'reason must be a short word');
    await tunnels.stop(t, reason, true, `tunnel stopped through the REST API (${reason})`);
    return { body: { result: true, id: t.id, jobs_running: jobs } };
  });

  router.add('GET', '/rest/v1/:user/all_tunnels', async (ctx) => {
    const owner = self(ctx);
    const limit = Number(ctx.query.get('limit') ?? 100);
    if (!Number.isInteger(limit) || limit < 1 || limit > 10_000) {
      throw new RestError(400, 'invalid_request', 'limit must be an integer from 1 to 10000');
    }
    return { body: { tunnels: (await store.listTunnels({ ownerId: owner.id, limit })).map(view) } };
  });

  const resignCa = deps.resignCa;
  if (resignCa) {
    router.add(
      'GET',
      '/rest/v1/public/tunnels/info/resign-ca',
      async () => ({ body: { certificate: resignCa.certPem, fingerprint: resignCa.fingerprint } }),
      { auth: 'none' },
    );
  }

  router.add(
    'GET',
    '/rest/v1/public/tunnels/info/versions',
    async () => ({
      body: {
        latest_version: deps.version,
        status: 'OK',
        info_url: '',
        download_url: '',
        warning: [],
        downloads: {},
      },
    }),
    { auth: 'none' },
  );
}
