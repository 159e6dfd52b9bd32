/**
 * The WebDriver gateway's settings (docs/gateway.md). Its flags are declared in the option registry
 * (src/options/server-flags.ts, group "WebDriver gateway"); gatewayFromOptions turns the parsed values into
 * GatewayConfig.
 */
import type { ServerOptions } from '../../options/server-flags.js';
/** `N` (that many ports the OS picks: one node only) or `FROM-TO` (the same range on every node). */
export type PortSpec = { count: number } | { from: number; to: number };

/** A value the registry's portSpec check accepted (src/options/checks.ts): `N` or `FROM-TO`. */
export function parsePortSpec(value: string): PortSpec {
  const [from, to] = value.split('-').map(Number);
  return to === undefined ? { count: from! } : { from: from!, to };
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
export function gatewayFromOptions(
  o: Pick<
    ServerOptions,
    | 'webdriverUpstream'
    | 'webdriverProxyPorts'
    | 'webdriverProxyHost'
    | 'webdriverTrustSpki'
    | 'webdriverNewSessionTimeout'
    | 'webdriverCommandTimeout'
    | 'webdriverIdleTimeout'
  >,
): GatewayConfig {
  return {
    upstreams: o.webdriverUpstream.map((u) => new URL(u)),
    proxyPorts: parsePortSpec(o.webdriverProxyPorts),
    ...(o.webdriverProxyHost ? { proxyHost: o.webdriverProxyHost } : {}),
    trustSpki: o.webdriverTrustSpki,
    newSessionTimeoutMs: o.webdriverNewSessionTimeout,
    commandTimeoutMs: o.webdriverCommandTimeout,
    idleTimeoutMs: o.webdriverIdleTimeout,
  };
}
