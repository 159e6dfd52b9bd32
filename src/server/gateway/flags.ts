/**
 * The WebDriver gateway's flags of `sc-server start` (docs/gateway.md), parsed into GatewayConfig. Kept in one
 * place so they can move into the option registry as a block. Imports nothing heavy: `sc-server admin` loads it.
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

export const WEBDRIVER_FLAGS = {
  'webdriver-upstream': { type: 'string', multiple: true },
  'webdriver-proxy-ports': { type: 'string' },
  'webdriver-proxy-host': { type: 'string' },
  'webdriver-trust-spki': { type: 'string', multiple: true },
  'webdriver-new-session-timeout': { type: 'string' },
  'webdriver-command-timeout': { type: 'string' },
  'webdriver-idle-timeout': { type: 'string' },
} as const;

const list = (v: string | string[] | undefined, envValue: string | undefined): string[] =>
  (Array.isArray(v) ? v : v !== undefined ? [v] : (envValue ?? '').split(','))
    .map((x) => x.trim())
    .filter(Boolean);

/** Throws Error naming the flag on bad values. */
export function gatewayConfig(
  values: Record<string, string | string[] | undefined>,
  env: NodeJS.ProcessEnv,
  duration: (value: string, flag: string) => number,
): GatewayConfig {
  const one = (flag: string, envName: string): string | undefined => {
    const v = values[flag];
    return (typeof v === 'string' ? v : undefined) ?? env[envName];
  };
  const upstreams = list(values['webdriver-upstream'], env['SC_WEBDRIVER_UPSTREAM']).map((u) => {
    let url: URL;
    try {
      url = new URL(u);
    } catch {
      throw new Error(`--webdriver-upstream: "${u.replace(/\/\/[^@/]*@/, '//***@')}" is not a URL`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new Error(`--webdriver-upstream: ${url.protocol} is not http: or https:`);
    }
    return url;
  });
  const spkis = list(values['webdriver-trust-spki'], env['SC_WEBDRIVER_TRUST_SPKI']);
  for (const s of spkis) {
    if (!/^[A-Za-z0-9+/]{43}=$/.test(s)) {
      throw new Error(`--webdriver-trust-spki: "${s}" is not a base64 SHA-256 hash (44 characters)`);
    }
  }
  const host = one('webdriver-proxy-host', 'SC_WEBDRIVER_PROXY_HOST');
  if (host !== undefined && !/^[A-Za-z0-9.:[\]-]{1,253}$/.test(host)) {
    throw new Error(`--webdriver-proxy-host: "${host}" is not a host name`);
  }
  const d = (flag: string, envName: string, def: number): number => {
    const v = one(flag, envName);
    if (v === undefined) return def;
    const ms = duration(v, `--${flag}`);
    if (ms < 100) throw new Error(`--${flag}: must be at least 100ms`);
    return ms;
  };
  const ports = one('webdriver-proxy-ports', 'SC_WEBDRIVER_PROXY_PORTS');
  return {
    upstreams,
    proxyPorts:
      ports === undefined ? GATEWAY_DEFAULTS.proxyPorts : parsePortSpec(ports, '--webdriver-proxy-ports'),
    ...(host !== undefined ? { proxyHost: host } : {}),
    trustSpki: spkis,
    newSessionTimeoutMs: d(
      'webdriver-new-session-timeout',
      'SC_WEBDRIVER_NEW_SESSION_TIMEOUT',
      GATEWAY_DEFAULTS.newSessionTimeoutMs,
    ),
    commandTimeoutMs: d(
      'webdriver-command-timeout',
      'SC_WEBDRIVER_COMMAND_TIMEOUT',
      GATEWAY_DEFAULTS.commandTimeoutMs,
    ),
    idleTimeoutMs: d('webdriver-idle-timeout', 'SC_WEBDRIVER_IDLE_TIMEOUT', GATEWAY_DEFAULTS.idleTimeoutMs),
  };
}
