/** The WebDriver gateway as run.ts starts it: settings, the resigning key's SPKI, the session ports. */
import type { Logger } from '../../observability/log.js';
import type { ServerMetrics } from '../metrics.js';
import type { MemberSharing } from '../accounts/permissions.js';
import type { Registry } from '../registry/registry.js';
import type { Account, Store } from '../store/types.js';
import { createGateway, type Gateway } from './gateway.js';
import { loadOrCreateResignKey } from './resign-key.js';
import type { Resigner } from '../pki/resign-ca.js';
import { startSessionPorts } from './session-ports.js';
import type { GatewayConfig } from './flags.js';

export type { Gateway } from './gateway.js';
export { GATEWAY_DEFAULTS, parsePortSpec, type GatewayConfig } from './flags.js';

export interface StartGatewayDeps {
  dataDir: string;
  /** TLS resigning for the session ports' CONNECTs (pki/resign-ca.ts); its leaves carry the resigning key. */
  resigner?: Resigner;
  store: Store;
  registry: Registry;
  log: Logger;
  metrics?: ServerMetrics;
  maxHeaderSize?: number;
  authenticate: (u: string, k: string, ip: string) => Promise<Account | { retryAfter: number } | null>;
  /** The proxy entry's listen host (session ports listen there too) and the server's public host. */
  listenHost: string;
  /** What a team member's `--shared all` reaches (sc-server --team-member-sharing). */
  memberSharing: MemberSharing;
  publicHost: string;
  fallbackHost: () => string;
}

export async function startGateway(cfg: GatewayConfig, deps: StartGatewayDeps): Promise<Gateway> {
  const resign = await loadOrCreateResignKey(deps.dataDir);
  const ports = cfg.upstreams.length
    ? await startSessionPorts({
        store: deps.store,
        registry: deps.registry,
        log: deps.log.child('session-proxy'),
        metrics: deps.metrics,
        maxHeaderSize: deps.maxHeaderSize,
        resigner: deps.resigner,
        host: deps.listenHost,
        spec: cfg.proxyPorts,
      })
    : null;
  const wildcard = deps.listenHost === '::' || deps.listenHost === '0.0.0.0';
  const gateway = createGateway({
    store: deps.store,
    registry: deps.registry,
    log: deps.log,
    authenticate: deps.authenticate,
    memberSharing: deps.memberSharing,
    upstreams: cfg.upstreams,
    ports,
    proxyHost: cfg.proxyHost ?? (wildcard ? deps.publicHost : deps.listenHost),
    spkis: [resign.spki, ...cfg.trustSpki],
    newSessionTimeoutMs: cfg.newSessionTimeoutMs,
    commandTimeoutMs: cfg.commandTimeoutMs,
    idleTimeoutMs: cfg.idleTimeoutMs,
    fallbackHost: deps.fallbackHost,
  });
  if (ports) {
    deps.log.info('webdriver gateway ready', {
      upstreams: cfg.upstreams.length,
      proxy_ports: ports.ports.length === 1 ? String(ports.ports[0]) : `${ports.ports.length} ports`,
    });
  }
  gateway.startReaper();
  return gateway;
}
