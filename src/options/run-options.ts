/**
 * The typed result of parsing `sc run` flags, SAUCE_* env vars and the config file.
 * Property names are the camelCase of the long flag names. Durations are milliseconds; lists are arrays.
 * The registry in src/options/ produces this object; the client (src/client/run.ts) consumes it.
 */
import type { LogFormat, LogLevel } from '../observability/log.js';

export type ProxyLocalhost = 'deny' | 'allow' | 'direct';

export interface RunOptions {
  // Sauce Labs / tunnel
  username: string;
  accessKey: string;
  region: string;
  tunnelName: string;
  tunnelPool: boolean;
  shared: '' | 'all';
  metadata: Record<string, string>;
  configFile: string;
  restUrl: string;
  tunnelConnections: number;
  tunnelMaxConcurrentStreams: number;
  // Tunnel traffic (domain rules)
  tunnelDomains: string[];
  directDomains: string[];
  denyDomains: string[];
  tlsResignDomains: string[];
  tlsPassthroughDomains: string[];
  // Proxy (customer side)
  proxy: string;
  pac: string;
  proxySauce: string;
  proxySauceEnableKerberosAuth: boolean;
  proxyLocalhost: ProxyLocalhost;
  auth: string[];
  header: string[];
  debugAddress: string;
  // DNS
  dnsServer: string[];
  dnsRoundRobin: boolean;
  dnsTimeout: number;
  // HTTP client
  cacertFile: string[];
  httpDialAttempts: number;
  httpDialBackoff: number;
  httpDialTimeout: number;
  httpIdleConnTimeout: number;
  httpResponseHeaderTimeout: number;
  httpTlsHandshakeTimeout: number;
  httpTlsKeylogFile: string;
  // API server
  apiAddress: string;
  apiBasicAuth: string;
  apiIdleTimeout: number;
  inspector: boolean;
  inspectorMaxRequests: number;
  /** MiB. */
  inspectorMaxMemory: number;
  // Logging
  logFile: string;
  logLevel: LogLevel;
  logFormat: LogFormat;
  logHttp: string[];
  // Kerberos
  kerberosCfgFile: string;
  kerberosKeytabFile: string;
  kerberosUserName: string;
  kerberosUserRealm: string;
  kerberosEnabledHosts: string[];
  kerberosAuthUpstreamProxy: boolean;
  kerberosRunDiagnostics: boolean;
  // Hidden: SC5's --address, and this project's tunnel tuning
  address: string;
  /** How often each tunnel connection sends an HTTP/2 PING (hidden flag --tunnel-keepalive-interval). */
  tunnelKeepaliveInterval: number;
  /** A connection whose PING is not answered within this time is closed (hidden --tunnel-keepalive-timeout). */
  tunnelKeepaliveTimeout: number;
  /** How long `sc` keeps retrying to reach the server at start before exiting (hidden --start-timeout). */
  startTimeout: number;
  /** Longest wait for in-flight requests on SIGINT/SIGTERM before closing anyway (hidden --shutdown-timeout). */
  shutdownTimeout: number;
}
