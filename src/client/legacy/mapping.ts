/**
 * The one table of `sc legacy`: every flag of Sauce Connect 4 (4.9.x), and what becomes of it. A flag is
 * - `map`: turned into `sc run` flags (SC5 names), which then go through the same option registry and parser as
 *   `sc run` (src/options): one parser, one set of checks;
 * - `own`: handled by `sc legacy` itself (the readyfile and pidfile, which SC5 dropped);
 * - `ignored`: accepted with a warning, because it has no meaning any more;
 * - `error`: refused (exit 2) with the reason, because it cannot be honoured.
 * docs/legacy.md is generated from this table (src/client/legacy/docs.ts).
 */
import { fastFailToRules, hostListToRules } from './globs.js';

/** The SC4 values seen on the command line, by SC4 long name (every occurrence, in order). */
export type LegacyValues = ReadonlyMap<string, readonly string[]>;

/** What one SC4 flag becomes: SC5 flag name -> values (a list flag gets each value). */
export type Sc5Flags = [flag: string, value: string][];

export type LegacyAction =
  | {
      kind: 'map';
      /** The `sc run` flag it becomes (for the docs; the transform may set others too). */
      to: string;
      /** The SC4 values (every occurrence) to `sc run` flags; an Error names what is wrong with the value. */
      transform?: (values: readonly string[], all: LegacyValues) => Sc5Flags | Error;
      /** How the value changes, for the docs. */
      note?: string;
      /** The target is declared but not supported yet in `sc run`: warn with this text and drop the flag. */
      whileUnsupported?: string;
    }
  | { kind: 'own'; note: string }
  | { kind: 'ignored'; warning: string }
  | { kind: 'error'; reason: string };

export interface LegacyFlag {
  /** SC4 long name. */
  name: string;
  /** Other SC4 long names of the same flag. */
  aliases?: readonly string[];
  short?: string;
  /** Takes a value (SC4 flags without one are switches). */
  value: boolean;
  valueName?: string;
  /** SC4's meaning, for the docs and `sc legacy --help`. */
  description: string;
  secret?: boolean;
  action: LegacyAction;
}

/** Every value of a list flag, comma-separated and repeated, as one list. */
function items(values: readonly string[]): string[] {
  return values
    .flatMap((v) => v.split(','))
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

function last(values: readonly string[]): string {
  return values[values.length - 1]!;
}

function hostRules(to: string) {
  return (values: readonly string[]): Sc5Flags | Error => {
    const rules = hostListToRules(values.join(','));
    return rules instanceof Error ? rules : rules.map((r): [string, string] => [to, r]);
  };
}

/** SC4 regions and data-centre names to SC5 region names. */
const REGION_ALIASES: Record<string, string> = {
  'us-west-1': 'us-west',
  us: 'us-west',
  'eu-central-1': 'eu-central',
  eu: 'eu-central',
  'us-east-4': 'us-east',
};

/** SC4's `--proxy` was host:port (scheme optional). */
function proxyAddress(all: LegacyValues): string | undefined {
  const p = all.get('proxy');
  return p ? last(p) : undefined;
}

/** `host:port` of an SC4 proxy value, without scheme or credentials. */
function hostPortOf(proxy: string): string {
  return proxy.replace(/^[a-z][a-z0-9+.-]*:\/\//i, '').replace(/^.*@/, '');
}

export const LEGACY_FLAGS: readonly LegacyFlag[] = [
  // Account and tunnel
  {
    name: 'user',
    short: 'u',
    value: true,
    valueName: 'username',
    description: 'Account user name.',
    action: { kind: 'map', to: 'username' },
  },
  {
    name: 'api-key',
    short: 'k',
    value: true,
    valueName: 'key',
    secret: true,
    description: 'Access key of the account.',
    action: { kind: 'map', to: 'access-key' },
  },
  {
    name: 'tunnel-identifier',
    aliases: ['tunnel-name'],
    short: 'i',
    value: true,
    valueName: 'name',
    description: 'Name of the tunnel (SC4 allowed none).',
    action: {
      kind: 'map',
      to: 'tunnel-name',
      note: 'When missing (and SAUCE_TUNNEL_NAME is unset), the name is `legacy-default` and a warning says so.',
    },
  },
  {
    name: 'region',
    short: 'r',
    value: true,
    valueName: 'region',
    description: 'Data centre of the tunnel.',
    action: {
      kind: 'map',
      to: 'region',
      note: 'SC4 names (`us-west-1`, `eu-central-1`, `us-east-4`, `us`, `eu`) become SC5 names. Default `us-west`, as SC5 legacy mode.',
      transform: (v) => [['region', REGION_ALIASES[last(v).toLowerCase()] ?? last(v)]],
    },
  },
  {
    name: 'rest-url',
    short: 'x',
    value: true,
    valueName: 'url',
    description: 'REST API URL.',
    action: { kind: 'map', to: 'rest-url' },
  },
  {
    name: 'shared-tunnel',
    short: 's',
    value: false,
    description: 'Let the other users of the organisation use the tunnel.',
    action: {
      kind: 'map',
      to: 'shared',
      note: 'Becomes `--shared all`.',
      transform: () => [['shared', 'all']],
    },
  },
  {
    name: 'tunnel-pool',
    aliases: ['no-remove-colliding-tunnels'],
    value: false,
    description: 'Keep other tunnels with the same name running (a pool).',
    action: { kind: 'map', to: 'tunnel-pool', transform: () => [['tunnel-pool', 'true']] },
  },
  // Tunnel traffic
  {
    name: 'tunnel-domains',
    short: 't',
    value: true,
    valueName: 'host,...',
    description: 'Only these hosts go through the tunnel.',
    action: {
      kind: 'map',
      to: 'tunnel-domains',
      note: 'Host patterns become anchored rules (see "Host patterns").',
      transform: hostRules('tunnel-domains'),
    },
  },
  {
    name: 'direct-domains',
    short: 'D',
    value: true,
    valueName: 'host,...',
    description: 'These hosts go direct instead of through the tunnel.',
    action: {
      kind: 'map',
      to: 'direct-domains',
      note: 'Host patterns become anchored rules (see "Host patterns").',
      transform: hostRules('direct-domains'),
    },
  },
  {
    name: 'no-ssl-bump-domains',
    short: 'B',
    value: true,
    valueName: 'host,...|all',
    description: 'TLS to these hosts is not re-signed.',
    action: {
      kind: 'map',
      to: 'tls-passthrough-domains',
      note: 'Host patterns become anchored rules.',
      transform: hostRules('tls-passthrough-domains'),
    },
  },
  {
    name: 'fast-fail-regexps',
    short: 'F',
    value: true,
    valueName: 'regexp,...',
    description: 'Requests matching these regular expressions fail at once.',
    action: {
      kind: 'map',
      to: 'deny-domains',
      note: 'Each expression `re` becomes `.*(?:re).*` on the host name; one holding `/` (a URL path) is refused.',
      transform: (v) => {
        const rules = fastFailToRules(v.join(','));
        return rules instanceof Error ? rules : rules.map((r): [string, string] => ['deny-domains', r]);
      },
    },
  },
  // Proxies
  {
    name: 'proxy',
    short: 'p',
    value: true,
    valueName: 'host:port',
    description: 'Upstream proxy for the traffic of the tests.',
    action: { kind: 'map', to: 'proxy' },
  },
  {
    name: 'proxy-userpwd',
    short: 'w',
    value: true,
    valueName: 'user:pass',
    secret: true,
    description: 'Credentials for the `--proxy` proxy.',
    action: {
      kind: 'map',
      to: 'auth',
      note: 'Becomes `--auth user:pass@<proxy host:port>` (needs `--proxy`).',
      transform: (v, all) => {
        const proxy = proxyAddress(all);
        if (!proxy) return new Error('needs --proxy (the proxy these credentials are for)');
        if (!last(v).includes(':')) return new Error('expected user:password');
        return [['auth', `${last(v)}@${hostPortOf(proxy)}`]];
      },
    },
  },
  {
    name: 'proxy-tunnel',
    short: 'T',
    value: false,
    description: 'Also send the connections to the server through the `--proxy` proxy.',
    action: {
      kind: 'map',
      to: 'proxy-sauce',
      note: 'Becomes `--proxy-sauce <proxy>`, with the `--proxy-userpwd` credentials (needs `--proxy`).',
      transform: (_v, all) => {
        const proxy = proxyAddress(all);
        if (!proxy) return new Error('needs --proxy (the proxy to use for the tunnel)');
        const creds = all.get('proxy-userpwd');
        if (!creds || /@/.test(proxy)) return [['proxy-sauce', proxy]];
        const m = /^([a-z][a-z0-9+.-]*:\/\/)?(.*)$/i.exec(proxy)!;
        const userinfo = last(creds)
          .split(':')
          .map((s) => encodeURIComponent(s))
          .join(':');
        return [['proxy-sauce', `${m[1] ?? 'http://'}${userinfo}@${m[2]}`]];
      },
    },
  },
  {
    name: 'pac',
    value: true,
    valueName: 'url',
    description: 'PAC script choosing the upstream proxy.',
    action: { kind: 'map', to: 'pac' },
  },
  {
    name: 'pac-auth',
    value: true,
    valueName: 'user:pass@host:port',
    secret: true,
    description: 'Credentials for a proxy the PAC script names (repeatable).',
    action: { kind: 'map', to: 'auth', transform: (v) => v.map((x): [string, string] => ['auth', x]) },
  },
  {
    name: 'auth',
    short: 'a',
    value: true,
    valueName: 'host:port:user:pass',
    secret: true,
    description: 'Basic-auth credentials for a site (repeatable).',
    action: {
      kind: 'map',
      to: 'auth',
      note: 'Becomes `user:pass@host:port`.',
      transform: (v) => {
        const out: Sc5Flags = [];
        for (const x of v) {
          const m = /^([^:]+):([^:]+|\*):([^:]+):(.*)$/.exec(x);
          if (!m) return new Error('expected host:port:user:password');
          out.push(['auth', `${m[3]}:${m[4]}@${m[1]}:${m[2]}`]);
        }
        return out;
      },
    },
  },
  {
    name: 'proxy-localhost',
    value: false,
    description: 'Send requests for localhost through the upstream proxy too.',
    action: {
      kind: 'map',
      to: 'proxy-localhost',
      note: 'Becomes `--proxy-localhost allow`; without it, `direct` (SC4 always reached localhost, bypassing the upstream proxy).',
      transform: () => [['proxy-localhost', 'allow']],
    },
  },
  {
    name: 'dns',
    value: true,
    valueName: 'ip[:port],...',
    description: 'DNS servers to use.',
    action: {
      kind: 'map',
      to: 'dns-server',
      transform: (v) => items(v).map((x): [string, string] => ['dns-server', x]),
    },
  },
  {
    name: 'cainfo',
    aliases: ['tunnel-cainfo'],
    value: true,
    valueName: 'file',
    description: 'Extra CA certificates (PEM file) to trust.',
    action: {
      kind: 'map',
      to: 'cacert-file',
      transform: (v) => v.map((x): [string, string] => ['cacert-file', x]),
    },
  },
  // Local status server and logs
  {
    name: 'status-address',
    aliases: ['metrics-address'],
    value: true,
    valueName: 'host:port',
    description: 'Address of the local status server.',
    action: { kind: 'map', to: 'api-address', note: 'Serves SC5-style `/readyz`, `/healthz`, `/metrics`.' },
  },
  {
    name: 'logfile',
    short: 'l',
    value: true,
    valueName: 'file',
    description: 'Write the log to this file.',
    action: { kind: 'map', to: 'log-file' },
  },
  {
    name: 'verbose',
    short: 'v',
    value: false,
    description: 'More logging (`-vv`: also each request).',
    action: {
      kind: 'map',
      to: 'log-level',
      note: '`-v` becomes `--log-level debug`; `-vv` adds `--log-http proxy:url`.',
      transform: (v) =>
        v.length > 1
          ? [
              ['log-level', 'debug'],
              ['log-http', 'proxy:url'],
            ]
          : [['log-level', 'debug']],
    },
  },
  // Handled by sc legacy itself
  {
    name: 'readyfile',
    short: 'f',
    value: true,
    valueName: 'file',
    description: 'File created when the tunnel is ready.',
    action: {
      kind: 'own',
      note: 'Removed at start if present, created empty when the tunnel is ready, removed at exit.',
    },
  },
  {
    name: 'pidfile',
    short: 'd',
    value: true,
    valueName: 'file',
    description: 'File holding the process id.',
    action: { kind: 'own', note: 'Written (pid and a newline) at start, removed at exit.' },
  },
  // No meaning any more
  {
    name: 'se-port',
    short: 'P',
    value: true,
    valueName: 'port',
    description: 'Port of the local Selenium relay.',
    action: {
      kind: 'ignored',
      warning:
        'the Selenium relay is gone: point WebDriver clients at the server (or its WebDriver gateway), not at sc',
    },
  },
  {
    name: 'scproxy-port',
    value: true,
    valueName: 'port',
    description: 'Port of the internal proxy.',
    action: { kind: 'ignored', warning: 'sc has no internal proxy port to choose' },
  },
  {
    name: 'vm-version',
    value: true,
    valueName: 'version',
    description: 'Version of the tunnel VM.',
    action: { kind: 'ignored', warning: 'there is no tunnel VM to choose' },
  },
  {
    name: 'max-logsize',
    value: true,
    valueName: 'bytes',
    description: 'Rotate the log file at this size.',
    action: {
      kind: 'ignored',
      warning: 'sc does not rotate its log: use logrotate, then SIGHUP reopens the file',
    },
  },
  {
    name: 'log-stats',
    short: 'z',
    value: true,
    valueName: 'seconds',
    description: 'Log statistics periodically.',
    action: { kind: 'ignored', warning: 'statistics are on /metrics of the --status-address server' },
  },
  {
    name: 'extra-info',
    value: true,
    valueName: 'json',
    description: 'Extra settings for the tunnel VM.',
    action: { kind: 'ignored', warning: 'there is no tunnel VM to configure' },
  },
  {
    name: 'experimental',
    value: true,
    valueName: 'features',
    description: 'Experimental features.',
    action: { kind: 'ignored', warning: 'SC4 experimental features do not exist here' },
  },
  {
    name: 'ocsp',
    value: true,
    valueName: 'mode',
    description: 'OCSP checking of the server certificate.',
    action: {
      kind: 'ignored',
      warning: 'certificates are checked against the trusted CAs; there is no OCSP mode',
    },
  },
  {
    name: 'no-autodetect',
    value: false,
    description: 'Do not detect proxy settings.',
    action: { kind: 'ignored', warning: 'proxy settings are never detected: this is already the behaviour' },
  },
  {
    name: 'no-proxy-caching',
    short: 'N',
    value: false,
    description: 'Disable caching in the tunnel proxy.',
    action: { kind: 'ignored', warning: 'nothing is cached' },
  },
  {
    name: 'max-missed-acks',
    value: true,
    valueName: 'n',
    description: 'Keepalive acks missed before reconnecting.',
    action: {
      kind: 'ignored',
      warning: 'keepalives have their own timeout (--tunnel-keepalive-timeout of sc run)',
    },
  },
  {
    name: 'output-format',
    value: true,
    valueName: 'format',
    description: 'Format of the doctor output.',
    action: { kind: 'ignored', warning: 'there is no doctor output to format' },
  },
  // Cannot be honoured
  {
    name: 'autodetect',
    value: false,
    description: 'Use the system proxy settings.',
    action: {
      kind: 'error',
      reason: 'proxy settings are not detected: give the proxy with --proxy or --pac',
    },
  },
  {
    name: 'capath',
    aliases: ['tunnel-capath'],
    value: true,
    valueName: 'dir',
    description: 'Directory of CA certificates.',
    action: { kind: 'error', reason: 'CA directories are not read: give each CA file with --cainfo' },
  },
  {
    name: 'doctor',
    value: false,
    description: 'Run connectivity checks and exit.',
    action: {
      kind: 'error',
      reason: 'legacy mode has no doctor: run sc run with the equivalent flags instead',
    },
  },
  {
    name: 'config-file',
    short: 'c',
    value: true,
    valueName: 'file',
    description: 'SC4 YAML configuration file (keys: the SC4 long flag names).',
    action: {
      kind: 'own',
      note: 'Read and translated like the command line; the command line wins over its values.',
    },
  },
  {
    name: 'output-config-file',
    value: true,
    valueName: 'file',
    description:
      'Not SC4: write the equivalent `sc run` config file (YAML) and exit without starting a tunnel.',
    action: {
      kind: 'own',
      note: 'Mode 0600 (it may hold the access key); run it with `sc run -c <file>`. The readyfile and pidfile have no `sc run` equivalent and are left out, with a comment.',
    },
  },
];

/** Defaults `sc legacy` applies when neither the command line nor SAUCE_* env set the option. */
export const LEGACY_DEFAULTS: readonly { flag: string; value: string; why: string }[] = [
  { flag: 'tunnel-name', value: 'legacy-default', why: 'SC4 ran unnamed tunnels; SC5 needs a name' },
  { flag: 'region', value: 'us-west', why: 'as SC5 legacy mode' },
  {
    flag: 'proxy-localhost',
    value: 'direct',
    why: 'SC4 always reached localhost, bypassing the upstream proxy',
  },
];
