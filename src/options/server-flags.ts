/**
 * The registry of `sc-server start`: every option declared once, as for `sc run` (run-flags.ts); settings both
 * programs have come from shared-flags.ts. Env vars are SLUICE_SERVER_ + the name upper-cased, and the SC_* names
 * of earlier versions are still read (docs/decisions/0008-server-options.md).
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import * as c from './checks.js';
import type { FlagDef } from './flag.js';
import { sharedFlag } from './shared-flags.js';
import type { LogFormat, LogLevel } from '../observability/log.js';

/** --store: empty or sqlite (embedded), or a postgres:// URL naming a host. */
function storeUrl(value: string): string | undefined {
  if (value === '' || value === 'sqlite') return undefined;
  if (!/^postgres(ql)?:\/\//i.test(value))
    return 'expected empty (the embedded store) or a postgres://user@host:port/db URL';
  let u: URL;
  try {
    u = new URL(value);
  } catch {
    return 'not a valid URL: expected postgres://user@host:port/db';
  }
  if (!u.hostname && !u.searchParams.get('host'))
    return 'names no host: expected postgres://user@host:port/db';
  return undefined;
}

/** The password of a store URL, in its user info or a password= parameter, as ****; the rest stays readable. */
function maskStoreUrl(value: string): string {
  const m = /^([a-z][a-z0-9+.-]*:\/\/)([^@/?#]*)@/i.exec(value);
  let out = value;
  if (m && m[2]!.includes(':')) {
    const user = m[2]!.slice(0, m[2]!.indexOf(':'));
    out = `${m[1]}${user}:****@${value.slice(m[0].length)}`;
  } else if (!m && !/^[a-z][a-z0-9+.-]*:\/\//i.test(value)) out = c.maskUserinfo(value);
  return out.replace(/([?&]password=)[^&#]*/i, '$1****');
}

export const SERVER_FLAGS: readonly FlagDef[] = [
  sharedFlag('config-file', 'Server'),
  {
    name: 'data-dir',
    type: 'string',
    default: './sluice-data',
    valueName: 'dir',
    group: 'Server',
    description: 'Data directory (store, certificate authority, server.json), created if missing.',
  },
  {
    name: 'store',
    type: 'string',
    default: '',
    defaultText: 'embedded SQLite in --data-dir',
    valueName: 'url',
    group: 'Server',
    check: storeUrl,
    secret: maskStoreUrl,
    description:
      'Where accounts, keys, teams and tunnels are kept: empty for the embedded SQLite store in --data-dir (one ' +
      'server process), or postgres://user@host:5432/db for PostgreSQL shared by several nodes (docs/cluster.md). ' +
      'Put the password in --store-password-file or PGPASSWORD rather than in the URL.',
  },
  {
    name: 'store-password-file',
    type: 'string',
    default: '',
    valueName: 'path',
    group: 'Server',
    check: (v, cwd) => (v === '' || existsSync(resolve(cwd, v)) ? undefined : 'no such file'),
    description:
      'File holding the PostgreSQL password (e.g. a mounted Kubernetes Secret); trailing newline ignored. Used ' +
      'when the --store URL has no password; PGPASSWORD also works.',
  },
  {
    name: 'store-pool-size',
    type: 'int',
    default: 10,
    min: 1,
    max: 1000,
    valueName: 'n',
    group: 'Server',
    description: 'Most PostgreSQL connections this server holds open.',
  },
  {
    name: 'store-connect-timeout',
    type: 'duration',
    default: 5_000,
    min: 100,
    group: 'Server',
    description:
      'How long a query waits for a PostgreSQL connection (new, or free in the pool) before failing with 503 ' +
      'store_unavailable.',
  },
  {
    name: 'store-statement-timeout',
    type: 'duration',
    default: 10_000,
    min: 0,
    group: 'Server',
    description: "PostgreSQL statement_timeout of the server's queries; 0 = none.",
  },
  {
    name: 'store-start-retry',
    type: 'duration',
    default: 300_000,
    min: 0,
    group: 'Server',
    description:
      'At start, how long to keep retrying an unreachable PostgreSQL (backoff up to 15 s, each failure ' +
      'logged) before exiting with an error; 0 = try once.',
  },
  {
    name: 'public-host',
    type: 'string',
    default: 'localhost',
    valueName: 'name',
    group: 'Server',
    check: c.publicHost,
    description:
      'Host name clients use to reach this server: added to the certificate, and the edge address given to ' +
      'clients when the edge listens on all interfaces.',
  },
  {
    name: 'rest-address',
    type: 'string',
    default: '127.0.0.1:8443',
    valueName: 'host:port',
    group: 'Listeners',
    check: c.hostPort,
    serverJson: 'rest_url',
    description:
      'REST API (HTTPS) and the server\'s /readyz and /healthz. ":8443" = all interfaces, port 0 = any.',
  },
  {
    name: 'edge-address',
    type: 'string',
    default: '127.0.0.1:8444',
    valueName: 'host:port',
    group: 'Listeners',
    check: c.hostPort,
    serverJson: 'edge_address',
    description: 'Tunnel edge (TLS) that sc connects to.',
  },
  {
    name: 'proxy-address',
    type: 'string',
    default: '127.0.0.1:8080',
    valueName: 'host:port',
    group: 'Listeners',
    check: c.hostPort,
    serverJson: 'proxy_address',
    description: 'Proxy entry for browsers (plain HTTP forward proxy).',
  },
  {
    name: 'metrics-address',
    type: 'string',
    default: '',
    defaultText: 'off',
    valueName: 'host:port',
    group: 'Listeners',
    check: c.hostPort,
    serverJson: 'metrics_address',
    description:
      'Serve Prometheus /metrics (plain HTTP, no authentication) on this address; off when empty. ' +
      'Keep it on loopback or a private network.',
  },
  {
    name: 'rest-metrics',
    type: 'bool',
    default: false,
    group: 'Listeners',
    description: 'Also serve /metrics on the REST listener, without authentication (off: it is public).',
  },
  {
    name: 'tls-cert',
    type: 'string',
    default: '',
    defaultText: 'own CA',
    valueName: 'path',
    group: 'TLS',
    serverJson: 'tls_cert',
    description:
      "PEM certificate (chain) for the REST API and the edge instead of one issued by the server's own CA, " +
      'e.g. from a public CA so clients need no --cacert-file. Needs --tls-key; SIGHUP reloads both.',
  },
  {
    name: 'tls-key',
    type: 'string',
    default: '',
    valueName: 'path',
    group: 'TLS',
    description: 'PEM private key of --tls-cert.',
  },
  sharedFlag('tunnel-keepalive-interval', 'Tunnels'),
  sharedFlag('tunnel-keepalive-timeout', 'Tunnels'),
  {
    name: 'tunnel-grace',
    type: 'duration',
    default: 60_000,
    group: 'Tunnels',
    description:
      'End a tunnel whose client stays disconnected this long (shutdown reason client_disconnected).',
  },
  {
    name: 'queue-timeout',
    type: 'duration',
    default: 10_000,
    group: 'Tunnels',
    description: 'How long a request waits for a free tunnel stream before 503 tunnel_capacity.',
  },
  {
    name: 'max-header-size',
    type: 'int',
    default: 16384,
    min: 1024,
    max: 1 << 20,
    valueName: 'bytes',
    group: 'Tunnels',
    description: 'Largest request header block the proxy entry accepts; larger gets 431.',
  },
  {
    name: 'proxy-splice',
    type: 'string',
    default: 'true',
    values: ['true', 'false'],
    group: 'Tunnels',
    description:
      "Carry a browser's keep-alive connection of plain http:// requests to its own tunnel over one stream, " +
      'relayed by sc (docs/decisions/0006-splice.md); false: one stream per request.',
  },
  {
    name: 'proxy-header-timeout',
    type: 'duration',
    default: 5_000,
    min: 100,
    max: 600_000,
    group: 'Listeners',
    description:
      'A proxy entry connection must send a complete request head this soon after it opens (and after each ' +
      'keep-alive response); else it is answered 408 (or closed if it sent nothing).',
  },
  {
    name: 'proxy-idle-timeout',
    type: 'duration',
    default: 300_000,
    min: 100,
    group: 'Listeners',
    description:
      'Close a CONNECT, WebSocket or spliced proxy connection after this long with no bytes in either direction.',
  },
  {
    name: 'proxy-max-connections-per-source',
    type: 'int',
    default: 0,
    defaultText: 'no limit',
    min: 0,
    valueName: 'n',
    group: 'Listeners',
    description:
      'Open proxy entry connections one source address may hold; past it new ones are answered 429 and closed. ' +
      '0 = no limit (the default: one test grid behind a NAT may hold thousands). --trusted-proxies are exempt.',
  },
  {
    name: 'trusted-proxies',
    type: 'list',
    default: [],
    valueName: 'ip,...',
    group: 'Listeners',
    check: c.ipAddress,
    description:
      'Load balancers in front of the proxy entry and REST API: from these addresses the client address is the ' +
      'last X-Forwarded-For entry, which then counts for failed-authentication limits (docs/security.md).',
  },
  {
    name: 'max-tunnels-per-user',
    type: 'int',
    default: 0,
    defaultText: 'no limit',
    min: 0,
    valueName: 'n',
    group: 'Tunnels',
    description:
      'Running tunnels one account may have; a create past it answers 403 quota_exceeded (sc exits 5). 0 = no limit.',
  },
  {
    name: 'max-tunnels-per-org',
    type: 'int',
    default: 0,
    defaultText: 'no limit',
    min: 0,
    valueName: 'n',
    group: 'Tunnels',
    description: 'Running tunnels all accounts of one org may have together; as --max-tunnels-per-user.',
  },
  {
    name: 'tunnel-history-retention',
    type: 'duration',
    default: 30 * 24 * 3600_000,
    min: 1000,
    group: 'Tunnels',
    description:
      'Stopped tunnels are deleted from the store (and REST history) this long after they stopped.',
  },
  {
    name: 'direct-allow-networks',
    type: 'list',
    default: [],
    defaultText: 'none',
    valueName: 'cidr',
    group: 'Tunnels',
    check: c.network,
    description:
      "Networks that direct routing (a tunnel's --direct-domains / --tunnel-domains) may reach although they are " +
      'loopback, private or link-local, e.g. 10.1.0.0/16; repeatable. The server never dials its own listeners.',
  },
  {
    name: 'team-member-sharing',
    type: 'string',
    default: 'none',
    values: ['none', 'team'],
    group: 'Accounts',
    description:
      "What a team member's --shared all tunnel reaches: none = nobody else, it serves its owner only (the " +
      'default, as the shared-tunnel rules say); team = users who share a team with the owner (docs/roles.md).',
  },
  {
    name: 'admin-username',
    type: 'string',
    default: '',
    defaultText: 'admin',
    valueName: 'name',
    group: 'Accounts',
    description: 'Admin account created on the first start (ignored later); with --admin-access-key.',
  },
  {
    name: 'admin-access-key',
    type: 'string',
    default: '',
    defaultText: 'generated, printed once',
    valueName: 'key',
    group: 'Accounts',
    secret: true,
    description: 'Access key of that first admin. Prefer the env var or the config file to the command line.',
  },
  {
    name: 'webdriver-upstream',
    type: 'list',
    default: [],
    defaultText: 'none: sessions refused',
    valueName: 'url',
    group: 'WebDriver gateway',
    check: c.httpUrl,
    secret: c.maskUserinfo,
    description:
      'A browser node or Selenium Grid where gateway sessions run (http or https, credentials in the URL if it ' +
      'needs them); repeat for several, used in turn (docs/gateway.md).',
  },
  {
    name: 'webdriver-proxy-ports',
    type: 'string',
    default: '16',
    valueName: 'N|from-to',
    group: 'WebDriver gateway',
    check: c.portSpec,
    description:
      'Proxy ports, one per live session: N free ports picked at start (one node), or the range FROM-TO that ' +
      'every node of a cluster listens on.',
  },
  {
    name: 'webdriver-proxy-host',
    type: 'string',
    default: '',
    defaultText: "the proxy entry's host, or --public-host when it binds all interfaces",
    valueName: 'name',
    group: 'WebDriver gateway',
    check: c.publicHost,
    description: 'Host name browsers reach the session proxy ports on.',
  },
  {
    name: 'webdriver-trust-spki',
    type: 'list',
    default: [],
    valueName: 'hash',
    group: 'WebDriver gateway',
    check: c.spkiHash,
    description:
      "Base64 SHA-256 SPKI hash of a key whose certificates the gateway's browsers also accept (besides the " +
      "server's resigning key); repeatable.",
  },
  {
    name: 'webdriver-new-session-timeout',
    type: 'duration',
    default: 60_000,
    min: 100,
    group: 'WebDriver gateway',
    description: 'W3C error when the upstream has not started a session by then.',
  },
  {
    name: 'webdriver-command-timeout',
    type: 'duration',
    default: 330_000,
    min: 100,
    group: 'WebDriver gateway',
    description: 'W3C error when the upstream has not answered a command by then.',
  },
  {
    name: 'webdriver-idle-timeout',
    type: 'duration',
    default: 90_000,
    min: 100,
    group: 'WebDriver gateway',
    description: 'End a gateway session that has had no command for this long.',
  },
  {
    name: 'node-address',
    type: 'string',
    default: '',
    valueName: 'host:port',
    group: 'Cluster',
    check: c.hostPort,
    description:
      "Cluster mode (docs/cluster.md): where this node's node link (HTTP/2 over TLS, between nodes) listens. " +
      'Needs a shared --store postgres://...; empty = a single node.',
  },
  {
    name: 'node-advertise-address',
    type: 'string',
    default: '',
    valueName: 'host:port',
    group: 'Cluster',
    check: c.hostPort,
    description:
      "host:port other nodes dial for this node's node link (for example the pod address); default: " +
      '--node-address when it names one address.',
  },
  {
    name: 'node-public-address',
    type: 'string',
    default: '',
    valueName: 'host:port',
    group: 'Cluster',
    check: c.hostPort,
    description:
      'host:port of this node\'s tunnel edge as clients reach this node alone: listed in the "nodes" field of ' +
      "a created tunnel, over which sc spreads its connections. Port 0 = the edge's port. Empty = clients " +
      'only use the balanced address.',
  },
  {
    name: 'node-lease',
    type: 'duration',
    default: 10_000,
    min: 1000,
    group: 'Cluster',
    description:
      "How long a node's row and its tunnel connections' leases live in the store without a heartbeat " +
      '(renewed every fifth of it): when a node dies, other nodes stop routing to it at the latest this long after.',
  },
  {
    name: 'drain-timeout',
    type: 'duration',
    default: 30_000,
    group: 'Cluster',
    description:
      'On SIGTERM in cluster mode: how long the node drains (no new tunnel connections or proxy requests, ' +
      'clients told to move, in-flight requests finish) before it stops anyway.',
  },
  sharedFlag('log-file', 'Logging'),
  sharedFlag('log-level', 'Logging'),
  sharedFlag('log-format', 'Logging'),
];

/** `data-dir` -> `SLUICE_SERVER_DATA_DIR`. */
export function serverEnvName(flag: string): string {
  return 'SLUICE_SERVER_' + flag.toUpperCase().replace(/-/g, '_');
}

/** The env names of earlier versions, still read when the SLUICE_SERVER_* one is unset. */
export const SERVER_ENV_ALIASES: Readonly<Record<string, readonly string[]>> = {
  'data-dir': ['SC_DATA_DIR'],
  'rest-address': ['SC_REST_ADDRESS'],
  'edge-address': ['SC_EDGE_ADDRESS'],
  'proxy-address': ['SC_PROXY_ADDRESS'],
  'public-host': ['SC_PUBLIC_HOST'],
  'admin-username': ['SC_ADMIN_USERNAME'],
  'admin-access-key': ['SC_ADMIN_ACCESS_KEY'],
  'team-member-sharing': ['SC_TEAM_MEMBER_SHARING'],
  'webdriver-upstream': ['SC_WEBDRIVER_UPSTREAM'],
  'webdriver-proxy-ports': ['SC_WEBDRIVER_PROXY_PORTS'],
  'webdriver-proxy-host': ['SC_WEBDRIVER_PROXY_HOST'],
  'webdriver-trust-spki': ['SC_WEBDRIVER_TRUST_SPKI'],
  'webdriver-new-session-timeout': ['SC_WEBDRIVER_NEW_SESSION_TIMEOUT'],
  'webdriver-command-timeout': ['SC_WEBDRIVER_COMMAND_TIMEOUT'],
  'webdriver-idle-timeout': ['SC_WEBDRIVER_IDLE_TIMEOUT'],
  'log-level': ['SC_LOG_LEVEL'],
  'log-format': ['SC_LOG_FORMAT'],
};

/** server.json keys that no flag sets (docs/server.md lists them with the flags). */
export const SERVER_JSON_EXTRA: readonly (readonly [string, string])[] = [
  [
    'ca_cert',
    "Path of the server's own CA certificate (ca.pem in the data dir): give it to clients as --cacert-file.",
  ],
  ['ca_fingerprint', 'SHA-256 fingerprint of that CA certificate.'],
  [
    'resign_ca_cert',
    'Path of the TLS resigning CA certificate (resign-ca.pem in the data dir): browsers that are not started by ' +
      'the WebDriver gateway trust it for resigned HTTPS (docs/routing.md).',
  ],
  ['resign_ca_fingerprint', 'SHA-256 fingerprint of the resigning CA certificate.'],
  ['pid', 'Process id of the server.'],
];

/** The typed result of parsing `sc-server start`: camelCase of each long flag name; durations in ms. */
export interface ServerOptions {
  configFile: string;
  dataDir: string;
  store: string;
  storePasswordFile: string;
  storePoolSize: number;
  storeConnectTimeout: number;
  storeStatementTimeout: number;
  storeStartRetry: number;
  publicHost: string;
  restAddress: string;
  edgeAddress: string;
  proxyAddress: string;
  metricsAddress: string;
  restMetrics: boolean;
  tlsCert: string;
  tlsKey: string;
  tunnelKeepaliveInterval: number;
  tunnelKeepaliveTimeout: number;
  tunnelGrace: number;
  queueTimeout: number;
  maxHeaderSize: number;
  proxySplice: 'true' | 'false';
  proxyHeaderTimeout: number;
  proxyIdleTimeout: number;
  proxyMaxConnectionsPerSource: number;
  trustedProxies: string[];
  maxTunnelsPerUser: number;
  maxTunnelsPerOrg: number;
  tunnelHistoryRetention: number;
  directAllowNetworks: string[];
  teamMemberSharing: 'none' | 'team';
  webdriverUpstream: string[];
  webdriverProxyPorts: string;
  webdriverProxyHost: string;
  webdriverTrustSpki: string[];
  webdriverNewSessionTimeout: number;
  webdriverCommandTimeout: number;
  webdriverIdleTimeout: number;
  nodeAddress: string;
  nodeAdvertiseAddress: string;
  nodePublicAddress: string;
  drainTimeout: number;
  nodeLease: number;
  adminUsername: string;
  adminAccessKey: string;
  logFile: string;
  logLevel: LogLevel;
  logFormat: LogFormat;
}
