/**
 * Composition root of sc-server: opens the store, makes or loads the PKI, and starts the REST API, the tunnel
 * edge and the proxy entry. Knows nothing about argv, env or signals (src/server/cli does).
 */
import { constants } from 'node:fs';
import { access, mkdir, rename, stat, statfs, writeFile } from 'node:fs/promises';
import http, { type Server } from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import type { Logger } from '../observability/log.js';
import { AccountService } from './accounts/account-service.js';
import { hashAccessKey } from './accounts/access-keys.js';
import { AuthLimiter } from './accounts/auth-limiter.js';
import { loadOrCreateSecret, loadPreviousSecrets } from './accounts/server-secret.js';
import type { Account } from './store/types.js';
import type { MemberSharing } from './accounts/permissions.js';
import { formatAddress, type ListenAddress } from './address.js';
import { createEdge } from './edge/edge.js';
import { fingerprintOf, loadOrCreatePki } from './pki/ca.js';
import { createResigner } from './pki/resign-ca.js';
import { closeProxyEntry, createProxyEntry } from './proxy/proxy-entry.js';
import { parseNetworks } from './routing/direct-dial.js';
import { authorizeProxyUse } from './proxy/authorize.js';
import { normalizeIp } from './proxy/client-address.js';
import { createServerMetrics } from './metrics.js';
import { Registry } from './registry/registry.js';
import { createRouter, sendJson } from './rest/router.js';
import { registerTunnelRoutes } from './rest/tunnels-routes.js';
import { registerAdminRoutes } from './rest/admin-routes.js';
import { secureDataDir } from './store/sqlite-store.js';
import { describeStore, openStore, type StoreConfig } from './store/open.js';
import { StoreHealth } from './store/health.js';
import { StoreUnavailableError, type Store } from './store/types.js';
import { TunnelService } from './tunnels/tunnel-service.js';
import { createConsoleStatic, registerConsoleRoutes, sessionAuthenticator } from './console/console.js';
import { ConsoleSessions } from './console/session.js';
import { TunnelStats } from './registry/tunnel-stats.js';
import { GATEWAY_DEFAULTS, startGateway, type Gateway, type GatewayConfig } from './gateway/index.js';
import { checkSharedSecrets, Cluster, type ClusterConfig } from './cluster/cluster.js';
import { isSharedStore } from './store/open.js';

export interface ServerConfig {
  dataDir: string;
  /** The embedded SQLite store in dataDir when absent or url ''; else PostgreSQL (store/open.ts). */
  store?: StoreConfig;
  rest: ListenAddress;
  proxy: ListenAddress;
  edge: ListenAddress;
  publicHost: string;
  adminUsername?: string;
  adminAccessKey?: string;
  keepaliveIntervalMs: number;
  keepaliveTimeoutMs: number;
  tunnelGraceMs: number;
  queueTimeoutMs: number;
  maxHeaderSize: number;
  /** Splice keep-alive connections of plain requests (proxy/splice.ts); default true. */
  proxySplice?: boolean;
  /** Time a proxy entry connection has to send a complete request head (default 5 s). */
  proxyHeaderTimeoutMs?: number;
  /** CONNECT, upgraded and spliced connections with no traffic this long are closed (default 5 min). */
  proxyIdleTimeoutMs?: number;
  /** Open proxy entry connections per source address; 0 = no limit (the default). */
  maxConnectionsPerSource?: number;
  /** Load balancers whose X-Forwarded-For names the client (docs/security.md). */
  trustedProxies?: string[];
  /** Running tunnels per account and per org; 0 = no limit. */
  quotas?: { perUser: number; perOrg: number };
  /** Stopped tunnels are deleted this long after they stopped (default 30 days). */
  historyRetentionMs?: number;
  /** Private networks that direct routing may reach (sc-server --direct-allow-networks; routing/direct-dial.ts). */
  directAllowNetworks?: string[];
  /** Where Prometheus /metrics is served on its own (plain HTTP); none when absent. */
  metrics?: ListenAddress | null;
  /** Also serve /metrics, unauthenticated, on the REST listener. */
  restMetrics?: boolean;
  /** A certificate of the operator's own for REST and edge instead of one from the server's CA. */
  tls?: TlsPair | null;
  /** What a team member's `--shared all` reaches (docs/roles.md); default 'none', the seed's rule. */
  memberSharing?: MemberSharing;
  /** The WebDriver gateway (src/server/gateway); defaults: GATEWAY_DEFAULTS (no upstream: sessions refused). */
  gateway?: GatewayConfig;
  /** Cluster mode (docs/cluster.md): several nodes on one PostgreSQL store; absent = a single node. */
  cluster?: (ClusterConfig & { drainTimeoutMs: number }) | null;
  version: string;
}

/** A PEM certificate (chain) and its key, already checked to load (src/server/cli/tls-pair.ts). */
export interface TlsPair {
  certPem: string;
  keyPem: string;
  /** Where it was read from, for server.json and logs. */
  certPath: string;
}

/** A problem with the configuration found at start (for example an unusable data dir): the CLI exits 2. */
export class StartupError extends Error {
  override readonly name = 'StartupError';
}

export interface ServerInfo {
  rest_url: string;
  proxy_address: string;
  edge_address: string;
  /** The WebDriver gateway's endpoint (docs/gateway.md). */
  webdriver_url: string;
  /** The web console (docs/console.md). */
  console_url: string;
  ca_cert: string;
  ca_fingerprint: string;
  /** TLS resigning's CA (pki/resign-ca.ts): what browsers trust for resigned HTTPS. */
  resign_ca_cert: string;
  resign_ca_fingerprint: string;
  /** The operator's --tls-cert when given, else ''. */
  tls_cert: string;
  /** host:port of the metrics listener, '' when off. */
  metrics_address: string;
  pid: number;
}

export interface RunningServer {
  info: ServerInfo;
  /** Set when this start generated the admin's access key (printed once by the CLI). */
  generatedAdmin: { username: string; accessKey: string } | null;
  /** New TLS handshakes of REST and edge use this pair; open connections keep theirs. */
  reloadTls(pair: TlsPair): void;
  close(): Promise<void>;
}

/** Kernel pseudo filesystems (statfs f_type): nothing can be stored there, and mkdir in them can hang. */
const PSEUDO_FS: Record<number, string> = {
  0x9fa0: 'proc',
  0x62656572: 'sysfs',
  0x64626720: 'debugfs',
  0x27e0eb: 'cgroup',
  0x63677270: 'cgroup2',
  0x1cd1: 'devpts',
  0x73636673: 'securityfs',
  0x74726163: 'tracefs',
};

/**
 * Creates the data directory (mode 0700, missing parents too) or checks the existing one, failing fast with a
 * StartupError that names the problem: a path through a regular file, a kernel pseudo filesystem such as /proc
 * (where Node's recursive mkdir never returns), or a directory this user cannot write.
 */
export async function prepareDataDir(dir: string): Promise<void> {
  const missing: string[] = [];
  let existing = dir;
  for (;;) {
    try {
      const st = await stat(existing);
      if (!st.isDirectory())
        throw new StartupError(
          `data directory ${dir}: ${existing === dir ? 'it' : existing} is not a directory` +
            ' (choose another --data-dir)',
        );
      break;
    } catch (err) {
      if (err instanceof StartupError) throw err;
      const code = (err as NodeJS.ErrnoException).code;
      // ENOTDIR: a file further up; keep walking up to name it.
      if (code !== 'ENOENT' && code !== 'ENOTDIR')
        throw new StartupError(`data directory ${dir}: ${(err as Error).message}`);
      missing.unshift(existing);
      const parent = dirname(existing);
      if (parent === existing) throw new StartupError(`data directory ${dir}: no existing parent`);
      existing = parent;
    }
  }
  const fs = PSEUDO_FS[(await statfs(existing)).type];
  if (fs)
    throw new StartupError(
      `data directory ${dir} is on the kernel's ${fs} filesystem, which cannot store files: choose a directory on disk`,
    );
  for (const d of missing) {
    try {
      await mkdir(d, { mode: 0o700 });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST')
        throw new StartupError(`cannot create data directory ${d}: ${(err as Error).message}`);
    }
  }
  try {
    await access(dir, constants.W_OK | constants.X_OK);
  } catch {
    throw new StartupError(`data directory ${dir} is not writable by this user`);
  }
}

function serveMetrics(metrics: ReturnType<typeof createServerMetrics>, res: http.ServerResponse): void {
  metrics.registry.metrics().then(
    (text) => {
      res.writeHead(200, { 'content-type': metrics.registry.contentType });
      res.end(text);
    },
    () => sendJson(res, 500, { error: 'metrics failed', code: 'internal' }),
  );
}

function listen(server: Server, addr: ListenAddress): Promise<AddressInfo> {
  return new Promise((resolvePromise, reject) => {
    server.once('error', reject);
    server.listen(addr.port, addr.host, () => {
      server.off('error', reject);
      resolvePromise(server.address() as AddressInfo);
    });
  });
}

function close(server: Server): Promise<void> {
  return new Promise((r) => {
    server.close(() => r());
    server.closeAllConnections();
  });
}

/**
 * A cluster node's stop (docs/cluster.md): draining in the store, GOAWAY to its clients and peers, the proxy
 * entry closed to new connections; then it waits until its tunnel connections have moved away and the streams
 * in flight (its own and those peers send through it) are done, or `timeoutMs` passed.
 */
async function drainNode(cluster: Cluster, timeoutMs: number, proxy?: Server): Promise<void> {
  await cluster.drain();
  proxy?.close();
  proxy?.closeIdleConnections();
  const openProxy = (): Promise<number> =>
    new Promise((r) => (proxy ? proxy.getConnections((_e, n) => r(n ?? 0)) : r(0)));
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const busy = cluster.localBusy() + cluster.inFlight() + (await openProxy());
    if (busy === 0) return;
    await new Promise((r) => setTimeout(r, 100));
  }
}

export async function startServer(cfg: ServerConfig, log: Logger): Promise<RunningServer> {
  const dataDir = resolve(cfg.dataDir);
  await prepareDataDir(dataDir);
  const names = [...new Set(['localhost', '127.0.0.1', '::1', cfg.publicHost])];
  const pki = await loadOrCreatePki(dataDir, names);
  log.info(pki.created ? 'created certificate authority' : 'loaded certificate authority', {
    path: pki.caPath,
    fingerprint: pki.fingerprint,
  });
  const resigner = await createResigner(dataDir);
  const storeCfg = cfg.store ?? { url: '' };
  if (cfg.cluster && !isSharedStore(storeCfg.url))
    throw new StartupError(
      'cluster mode (--node-address) needs a shared store: --store postgres://... (the embedded store cannot be ' +
        'shared by several nodes)',
    );
  // While a shared store cannot be reached at start, the REST address answers the probes (decision 0014): /healthz
  // 200, /readyz and every other path 503 store_unavailable; the real listeners take the address once it opens.
  let probes: https.Server | null = null;
  const answerProbes = async (): Promise<void> => {
    const cert = cfg.tls ?? { certPem: pki.server.certPem, keyPem: pki.server.keyPem };
    probes = https.createServer(
      { cert: cert.certPem, key: cert.keyPem, minVersion: 'TLSv1.2' },
      (req, res) => {
        if (req.url === '/healthz' || req.url === '/liveness') {
          res.writeHead(200, { 'content-type': 'text/plain' });
          res.end('OK');
          return;
        }
        res.writeHead(503, { 'content-type': 'text/plain', 'x-sluice-error': 'store_unavailable' });
        res.end('store unavailable\n');
      },
    );
    const at = await listen(probes, cfg.rest);
    log.warn('answering probes while the store is unavailable', {
      address: formatAddress(at.address, at.port),
    });
  };
  let store: Store;
  try {
    store = await openStore(storeCfg, dataDir, log.child('store'), answerProbes);
  } finally {
    if (probes) await close(probes);
  }
  log.info('opened store', { store: await describeStore(storeCfg, dataDir) });
  const storeHealth = new StoreHealth(store, log.child('store'));
  const secret = await loadOrCreateSecret(dataDir);
  const previousSecrets = await loadPreviousSecrets(dataDir);
  await secureDataDir(dataDir);
  if (cfg.cluster) {
    // Before anything listens: a node without the cluster's CA and secret must not take traffic.
    try {
      await checkSharedSecrets(store, pki.fingerprint, secret);
    } catch (err) {
      await store.close();
      if ((err as Error).name === 'ClusterMismatchError') throw new StartupError((err as Error).message);
      throw err;
    }
  }
  const hash = (s: string): string => hashAccessKey(secret, s);
  const accounts = new AccountService(store, secret, { previousSecrets });
  const admin = await accounts.ensureAdmin(cfg.adminUsername, cfg.adminAccessKey);
  if (admin.created) log.info('created admin account', { username: admin.username });

  const memberSharing = cfg.memberSharing ?? 'none';
  log.info('tunnel sharing rule', { team_member_sharing: memberSharing });
  const registry = new Registry(cfg.queueTimeoutMs, Boolean(cfg.cluster));
  let cluster: Cluster | null = null;
  const metrics = createServerMetrics(registry);
  const stats = new TunnelStats(registry);
  stats.start();
  const tunnels = new TunnelService({
    store,
    registry,
    log: log.child('tunnels'),
    hashToken: hash,
    graceMs: cfg.tunnelGraceMs,
    quotas: cfg.quotas,
    retentionMs: cfg.historyRetentionMs ?? 30 * 24 * 3600_000,
  });
  let edgeAddress = '';

  // One gate for every credential check (REST and proxy entry): failures are rate-limited per source and account.
  const limiter = new AuthLimiter();
  const trustedProxies: ReadonlySet<string> = new Set((cfg.trustedProxies ?? []).map(normalizeIp));
  const authenticate = async (
    u: string,
    k: string,
    ip: string,
  ): Promise<Account | { retryAfter: number } | null> => {
    const decision = limiter.check(ip, u);
    if (!decision.allowed) return { retryAfter: decision.retryAfter };
    const account = await accounts.authenticate(u, k);
    if (account) limiter.recordSuccess(ip, u);
    else limiter.recordFailure(ip, u);
    return account;
  };
  const sessions = new ConsoleSessions(secret, store);
  const router = createRouter(authenticate, trustedProxies, sessionAuthenticator(sessions));
  registerTunnelRoutes(router, {
    store,
    registry,
    tunnels,
    log: log.child('rest'),
    edgeAddress: () => edgeAddress,
    publicHost: cfg.publicHost,
    version: cfg.version,
    resignCa: { certPem: resigner.ca.certPem, fingerprint: fingerprintOf(resigner.ca.certPem) },
    memberSharing,
    clusterNodes: () => cluster?.publicNodes() ?? [],
  });
  registerAdminRoutes(router, { store, accounts, log: log.child('admin') });
  registerConsoleRoutes(router, {
    store,
    registry,
    stats,
    sessions,
    authenticate,
    hashKey: hash,
    memberSharing,
    publicHost: cfg.publicHost,
    log: log.child('console'),
  });
  const consoleStatic = createConsoleStatic();
  if (!consoleStatic.available) log.warn('the web console files are missing from this build');
  const cert = cfg.tls
    ? { cert: cfg.tls.certPem, key: cfg.tls.keyPem }
    : { cert: pki.server.certPem, key: pki.server.keyPem };
  if (cfg.tls) log.info('using the operator certificate for REST and edge', { path: cfg.tls.certPath });
  const rest = https.createServer({ ...cert, minVersion: 'TLSv1.2' }, (req, res) => {
    if (gateway?.owns(req.url)) return gateway.handle(req, res);
    if (req.url === '/metrics' && req.method === 'GET' && cfg.restMetrics) {
      serveMetrics(metrics, res);
      return;
    }
    if (consoleStatic.handle(req, res)) return;
    if (req.url === '/readyz' && !storeHealth.ready) {
      res.writeHead(503, { 'content-type': 'text/plain', 'x-sluice-error': 'store_unavailable' });
      res.end('store unavailable\n');
      return;
    }
    if (req.url === '/readyz' && cluster?.draining) {
      res.writeHead(503, { 'content-type': 'text/plain', 'x-sluice-error': 'node_draining' });
      res.end('draining\n');
      return;
    }
    if (req.url === '/readyz' || req.url === '/healthz') {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('OK');
      return;
    }
    router.handle(req, res).catch((err: unknown) => {
      if (err instanceof StoreUnavailableError) return storeHealth.failed(err);
      log.error('REST handler failed', { error: err, url: req.url });
      if (!res.headersSent) sendJson(res, 500, { error: 'internal error', code: 'internal' });
    });
  });
  const edge = createEdge({
    store,
    registry,
    log: log.child('edge'),
    hashToken: hash,
    previousTokenHashes: (t) => previousSecrets.map((s) => hashAccessKey(s, t)),
    keepalive: { intervalMs: cfg.keepaliveIntervalMs, timeoutMs: cfg.keepaliveTimeoutMs },
    tls: cert,
    draining: () => cluster?.draining ?? false,
  });
  // The server's own listening ports, which direct routing never dials (known once they listen).
  let ownPorts: number[] = [];
  const proxy = createProxyEntry({
    registry,
    log: log.child('proxy'),
    maxHeaderSize: cfg.maxHeaderSize,
    splice: cfg.proxySplice ?? true,
    headerTimeoutMs: cfg.proxyHeaderTimeoutMs,
    idleTimeoutMs: cfg.proxyIdleTimeoutMs,
    maxConnectionsPerSource: cfg.maxConnectionsPerSource,
    trustedProxies,
    metrics,
    direct: {
      allowed: parseNetworks(cfg.directAllowNetworks ?? []),
      ownPorts: () => ownPorts,
    },
    authorize: (creds, ip) =>
      authorizeProxyUse(
        { authenticate, store, registry, memberSharing, waitForReconnect: Boolean(cfg.cluster) },
        creds,
        ip,
      ).catch((err: unknown) => {
        if (!(err instanceof StoreUnavailableError)) throw err;
        storeHealth.failed(err);
        return { error: 'store_unavailable' as const };
      }),
    resigner,
  });

  const metricsServer = cfg.metrics
    ? http.createServer((req, res) => {
        if (req.method === 'GET' && (req.url === '/metrics' || req.url?.startsWith('/metrics?'))) {
          serveMetrics(metrics, res);
          return;
        }
        res.writeHead(404, { 'content-type': 'text/plain' });
        res.end('only /metrics is served here\n');
      })
    : null;
  let restHost = '';
  const gateway: Gateway = await startGateway(cfg.gateway ?? GATEWAY_DEFAULTS, {
    dataDir,
    store,
    registry,
    resigner,
    log: log.child('gateway'),
    metrics,
    maxHeaderSize: cfg.maxHeaderSize,
    authenticate,
    listenHost: cfg.proxy.host,
    memberSharing,
    publicHost: cfg.publicHost,
    fallbackHost: () => restHost,
  });
  rest.on('upgrade', (req, socket, head) => {
    if (!gateway.upgrade(req, socket, head)) socket.destroy();
  });

  const restAddr = await listen(rest, cfg.rest);
  restHost = formatAddress(restAddr.address, restAddr.port);
  const edgeAddr = await listen(edge, cfg.edge);
  const proxyAddr = await listen(proxy, cfg.proxy);
  const metricsAddr = metricsServer && cfg.metrics ? await listen(metricsServer, cfg.metrics) : null;
  ownPorts = [restAddr.port, edgeAddr.port, proxyAddr.port, ...(metricsAddr ? [metricsAddr.port] : [])];
  edgeAddress = formatAddress(
    cfg.edge.host === '::' || cfg.edge.host === '0.0.0.0' ? cfg.publicHost : edgeAddr.address,
    edgeAddr.port,
  );
  if (cfg.cluster) {
    const { openPostgresDirectory } = await import('./cluster/directory-postgres.js');
    // --node-public-address with port 0: this node's edge port on that host.
    const pub = cfg.cluster.publicAddress ?? '';
    const publicAddress = /:0$/.test(pub) ? pub.replace(/:0$/, `:${edgeAddr.port}`) : pub;
    cluster = new Cluster(
      { ...cfg.cluster, publicAddress },
      {
        registry,
        store,
        directory: await openPostgresDirectory({
          url: storeCfg.url,
          password: storeCfg.password,
          connectTimeoutMs: storeCfg.connectTimeoutMs,
          log: log.child('cluster'),
        }),
        log: log.child('cluster'),
        secret,
        caPem: pki.ca.certPem,
        // The node link always presents the certificate from the shared CA, which peers verify.
        tls: { cert: pki.server.certPem, key: pki.server.keyPem },
      },
    );
    await cluster.start();
  }
  tunnels.startReaper();
  storeHealth.start();

  const info: ServerInfo = {
    rest_url: `https://${formatAddress(restAddr.address, restAddr.port)}/rest/v1`,
    proxy_address: formatAddress(proxyAddr.address, proxyAddr.port),
    edge_address: edgeAddress,
    webdriver_url: `https://${restHost}/wd/hub`,
    console_url: `https://${restHost}/console/`,
    ca_cert: pki.caPath,
    ca_fingerprint: pki.fingerprint,
    resign_ca_cert: resigner.caPath,
    resign_ca_fingerprint: fingerprintOf(resigner.ca.certPem),
    tls_cert: cfg.tls?.certPath ?? '',
    metrics_address: metricsAddr ? formatAddress(metricsAddr.address, metricsAddr.port) : '',
    pid: process.pid,
  };
  const tmp = join(dataDir, 'server.json.tmp');
  await writeFile(tmp, JSON.stringify(info, null, 2) + '\n');
  await rename(tmp, join(dataDir, 'server.json'));
  log.info('sc-server listening', { ...info });

  return {
    info,
    generatedAdmin: admin.accessKey ? { username: admin.username, accessKey: admin.accessKey } : null,
    reloadTls(pair: TlsPair) {
      const next = { cert: pair.certPem, key: pair.keyPem, minVersion: 'TLSv1.2' as const };
      rest.setSecureContext(next);
      edge.setSecureContext(next);
    },
    async close() {
      if (cluster) await drainNode(cluster, cfg.cluster!.drainTimeoutMs, proxy);
      tunnels.stopReaper();
      storeHealth.stop();
      stats.stop();
      await Promise.all([
        closeProxyEntry(proxy),
        close(rest),
        metricsServer ? close(metricsServer) : undefined,
        gateway.close(),
      ]);
      // Tunnels stay "running" in the store: their clients reconnect when the server is back.
      // Only this node's own connections: draining another node's would ask that node to drain the tunnel.
      for (const c of registry.localConnections()) c.drain();
      await cluster?.close();
      await close(edge);
      await store.close();
    },
  };
}
