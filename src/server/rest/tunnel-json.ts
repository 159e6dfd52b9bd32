/** The tunnel object in Sauce Labs' REST shape (plus the SC4-era fields clients still read). */
import type { TunnelRecord } from '../store/types.js';

export interface TunnelView {
  record: TunnelRecord;
  /** Usable connections right now. */
  connections: number;
  host: string;
}

export function tunnelJson({ record: t, connections, host }: TunnelView): Record<string, unknown> {
  return {
    id: t.id,
    tunnel_identifier: t.name,
    owner: t.owner,
    status: t.status,
    is_ready: t.status === 'running' && connections > 0,
    host,
    ip_address: null,
    creation_time: t.creationTime,
    launch_time: t.creationTime,
    last_connected: t.lastConnected,
    shutdown_time: t.shutdownTime,
    shutdown_reason: t.shutdownReason,
    user_shutdown: t.userShutdown,
    shared_tunnel: t.shared === 'all',
    shared: t.shared,
    tunnel_pool: t.tunnelPool,
    team_ids: [],
    metadata: t.metadata,
    tunnel_domains: t.tunnelDomains,
    direct_domains: t.directDomains,
    deny_domains: t.denyDomains,
    tls_resign_domains: t.tlsResignDomains,
    tls_passthrough_domains: t.tlsPassthroughDomains,
    domain_names: t.tunnelDomains,
    no_ssl_bump_domains: t.tlsPassthroughDomains,
    use_kgp: false,
    vm_version: '',
    extra_info: null,
    connections,
  };
}
