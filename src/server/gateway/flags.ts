/**
 * The WebDriver gateway's settings (docs/gateway.md). Its flags are declared in the option registry
 * (src/options/server-flags.ts, group "WebDriver gateway"); gatewayFromOptions turns the parsed values into
 * GatewayConfig.
 */
/** `N` (that many ports the OS picks: one node only) or `FROM-TO` (the same range on every node). */
export type PortSpec = { count: number } | { from: number; to: number };

export function parsePortSpec(value: string, flag: string): PortSpec {
  const range = /^(\d{1,5})-(\d{1,5})$/.exec(value);
  if (range) {
    const from = Number(range[1]);
    const to = Number(range[2]);
    if (from < 1 || to > 65535 || to < from || to - from >= 4096) {
      throw new Error(`${flag}: "${value}" must be FROM-TO within 1-65535, at most 4096 ports`);
    }
    return { from, to };
  }
  if (/^\d{1,4}$/.test(value) && Number(value) >= 1 && Number(value) <= 4096) return { count: Number(value) };
  throw new Error(`${flag}: "${value}" is neither a port count (1-4096) nor a range FROM-TO`);
}

export interface GatewayConfig {
  /** --webdriver-upstream (repeatable): browser nodes or a Grid, used in turn. None: sessions are refused. */
  upstreams: URL[];
  /** --webdriver-proxy-ports: N free ports (one node) or FROM-TO (every node the same range). */
  proxyPorts: PortSpec;
  /** --webdriver-proxy-host: how browsers reach the session ports; default the proxy entry's host. */
  proxyHost?: string;
  /** --webdriver-trust-spki (repeatable): more SPKI hashes the browser accepts certificates of. */
  trustSpki: string[];
  newSessionTimeoutMs: number;
  commandTimeoutMs: number;
  idleTimeoutMs: number;
}

export const GATEWAY_DEFAULTS: GatewayConfig = {
  upstreams: [],
  proxyPorts: { count: 16 },
  trustSpki: [],
  newSessionTimeoutMs: 60_000,
  commandTimeoutMs: 330_000,
  idleTimeoutMs: 90_000,
};

/** The gateway's settings from `sc-server start`'s parsed options (declared in src/options/server-flags.ts). */
export function gatewayFromOptions(o: {
  webdriverUpstream: string[];
  webdriverProxyPorts: string;
  webdriverProxyHost: string;
  webdriverTrustSpki: string[];
  webdriverNewSessionTimeout: number;
  webdriverCommandTimeout: number;
  webdriverIdleTimeout: number;
}): GatewayConfig {
  return {
    upstreams: o.webdriverUpstream.map((u) => new URL(u)),
    proxyPorts: parsePortSpec(o.webdriverProxyPorts, '--webdriver-proxy-ports'),
    ...(o.webdriverProxyHost ? { proxyHost: o.webdriverProxyHost } : {}),
    trustSpki: o.webdriverTrustSpki,
    newSessionTimeoutMs: o.webdriverNewSessionTimeout,
    commandTimeoutMs: o.webdriverCommandTimeout,
    idleTimeoutMs: o.webdriverIdleTimeout,
  };
}
