/**
 * Kerberos (SPNEGO, RFC 4559) for `sc run`, as SC5 does it: a `Negotiate` token sent up front, with no 401/407
 * round trip, as `Authorization` to the --kerberos-enabled-hosts, and as `Proxy-Authorization` on the CONNECT to
 * an upstream proxy (--proxy or a PAC result, with --kerberos-auth-upstream-proxy) and to the --proxy-sauce proxy
 * (--proxy-sauce-enable-kerberos-auth). See docs/kerberos.md.
 *
 * The GSSAPI binding is the optional `kerberos` package (native, compiled against MIT Kerberos). It is loaded only
 * here, only when a Kerberos flag asks for it, so installing `sc` compiles nothing; the client bundle leaves it
 * out (scripts/pack-lib.ts) and finds one installed beside sc or on NODE_PATH.
 *
 * Credentials: the principal --kerberos-user-name@--kerberos-user-realm, its keys from --kerberos-keytab-file
 * (MIT's client keytab, KRB5_CLIENT_KTNAME) with tickets kept in a credentials cache private to this process
 * (KRB5CCNAME=MEMORY:), and the realm's KDCs from --kerberos-cfg-file (KRB5_CONFIG). Without a keytab the
 * user's own cache (kinit, KRB5CCNAME) is used. These variables are set before the library is first loaded.
 * Each token is a fresh security context (a new authenticator): servers keep replay caches, so a token is
 * never sent twice.
 */
import { accessSync, constants, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { resolve } from 'node:path';

/** The options of `sc run` that this module reads. */
export interface KerberosOptions {
  kerberosCfgFile: string;
  kerberosKeytabFile: string;
  kerberosUserName: string;
  kerberosUserRealm: string;
  kerberosEnabledHosts: string[];
  kerberosAuthUpstreamProxy: boolean;
  kerberosRunDiagnostics: boolean;
  proxySauceEnableKerberosAuth: boolean;
  proxy: string;
  pac: string;
  proxySauce: string;
}

/** A Kerberos failure; `code` maps to the `kerberos_failed` error (protocol/errors.ts). */
export class KerberosError extends Error {
  readonly code = 'ESC_KERBEROS';
  /** The credentials themselves failed (keytab, principal, KDC, expiry), not one service principal. */
  readonly credentials: boolean;
  constructor(message: string, credentials: boolean) {
    super(message);
    this.credentials = credentials;
  }
}

/** A bad combination of Kerberos flags (the caller exits with the configuration exit code). */
export class KerberosConfigError extends Error {}

/** Does any flag ask for Kerberos? (Only then is the binding loaded.) */
export function kerberosWanted(o: KerberosOptions): boolean {
  return (
    o.kerberosEnabledHosts.length > 0 ||
    o.kerberosAuthUpstreamProxy ||
    o.proxySauceEnableKerberosAuth ||
    o.kerberosRunDiagnostics
  );
}

/** The client principal: `user@REALM`, `user` as given when it names a realm, or `user` alone (default realm). */
export function principalOf(o: KerberosOptions): string {
  const user = o.kerberosUserName;
  if (!user) return '';
  if (user.includes('@') || !o.kerberosUserRealm) return user;
  return `${user}@${o.kerberosUserRealm}`;
}

function readable(flag: string, path: string): void {
  try {
    accessSync(path, constants.R_OK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'unreadable';
    throw new KerberosConfigError(`--${flag}: cannot read "${path}" (${code})`);
  }
}

/** One key in a keytab file. */
export interface KeytabEntry {
  principal: string;
  kvno: number;
  enctype: string;
}

const ENCTYPES: Record<number, string> = {
  1: 'des-cbc-crc',
  3: 'des-cbc-md5',
  16: 'des3-cbc-sha1',
  17: 'aes128-cts-hmac-sha1-96',
  18: 'aes256-cts-hmac-sha1-96',
  19: 'aes128-cts-hmac-sha256-128',
  20: 'aes256-cts-hmac-sha384-192',
  23: 'arcfour-hmac',
  25: 'camellia128-cts-cmac',
  26: 'camellia256-cts-cmac',
};

/**
 * The entries of an MIT keytab file (format 0x0502, as ktutil, kadmin and AD's ktpass write it): principal, key
 * version and encryption type, never the key. Throws an Error when the bytes are not a keytab.
 */
export function keytabEntries(buf: Buffer): KeytabEntry[] {
  if (buf.length < 2 || buf[0] !== 5 || (buf[1] !== 2 && buf[1] !== 1))
    throw new Error('not a keytab file (no 0x0502 header)');
  const v1 = buf[1] === 1;
  const out: KeytabEntry[] = [];
  let at = 2;
  while (at + 4 <= buf.length) {
    const size = buf.readInt32BE(at);
    at += 4;
    if (size === 0) break;
    if (size < 0) {
      at += -size; // a hole left by a removed entry
      continue;
    }
    const end = at + size;
    if (end > buf.length) throw new Error('not a keytab file (an entry runs past the end)');
    let p = at;
    const u16 = (): number => {
      const v = buf.readUInt16BE(p);
      p += 2;
      return v;
    };
    const str = (): string => {
      const n = u16();
      const v = buf.toString('utf8', p, p + n);
      p += n;
      return v;
    };
    let count = u16();
    if (v1) count -= 1;
    const realm = str();
    const parts: string[] = [];
    for (let i = 0; i < count; i++) parts.push(str());
    if (!v1) p += 4; // name type
    p += 4; // timestamp
    let kvno = buf.readUInt8(p);
    p += 1;
    const type = u16();
    const keyLength = u16();
    p += keyLength; // the key itself: skipped
    if (end - p >= 4) kvno = buf.readUInt32BE(p) || kvno;
    out.push({
      principal: `${parts.join('/')}@${realm}`,
      kvno,
      enctype: ENCTYPES[type] ?? `enctype ${type}`,
    });
    at = end;
  }
  return out;
}

/** Entries of the keytab for `principal` (`name@REALM`, or `name` for any realm). */
function entriesFor(entries: KeytabEntry[], principal: string): KeytabEntry[] {
  return entries.filter((e) =>
    principal.includes('@') ? e.principal === principal : e.principal.split('@')[0] === principal,
  );
}

/** Checks the Kerberos flags together; throws KerberosConfigError naming the flag. */
export function checkKerberosOptions(o: KerberosOptions, cwd = process.cwd()): void {
  if (o.proxySauceEnableKerberosAuth && !o.proxySauce)
    throw new KerberosConfigError(
      '--proxy-sauce-enable-kerberos-auth needs --proxy-sauce: there is no proxy to authenticate to',
    );
  if (o.kerberosAuthUpstreamProxy && !o.proxy && !o.pac)
    throw new KerberosConfigError(
      '--kerberos-auth-upstream-proxy needs --proxy or --pac: there is no upstream proxy to authenticate to',
    );
  if (o.kerberosKeytabFile && !o.kerberosUserName)
    throw new KerberosConfigError(
      '--kerberos-keytab-file needs --kerberos-user-name (and --kerberos-user-realm unless the name has @REALM)',
    );
  if (o.kerberosUserRealm && !o.kerberosUserName)
    throw new KerberosConfigError('--kerberos-user-realm needs --kerberos-user-name');
  if (o.kerberosCfgFile) readable('kerberos-cfg-file', resolve(cwd, o.kerberosCfgFile));
  if (o.kerberosKeytabFile) {
    const path = resolve(cwd, o.kerberosKeytabFile);
    readable('kerberos-keytab-file', path);
    let entries: KeytabEntry[];
    try {
      entries = keytabEntries(readFileSync(path));
    } catch (err) {
      throw new KerberosConfigError(`--kerberos-keytab-file: "${path}": ${(err as Error).message}`);
    }
    const principal = principalOf(o);
    if (entriesFor(entries, principal).length === 0) {
      const held = [...new Set(entries.map((e) => e.principal))].join(', ') || 'no keys';
      throw new KerberosConfigError(
        `--kerberos-keytab-file: "${path}" has no key for ${principal} (it holds ${held}): ` +
          'check --kerberos-user-name and --kerberos-user-realm, or export the right keytab',
      );
    }
  }
}

/**
 * Points MIT Kerberos at the flags' files. Runs before the library is loaded: it reads these variables when it
 * initialises. A keytab gets a memory credentials cache of this process's own, so sc neither reads nor
 * overwrites the user's tickets.
 */
export function kerberosEnvironment(o: KerberosOptions, cwd = process.cwd()): Record<string, string> {
  const env: Record<string, string> = {};
  if (o.kerberosCfgFile) env['KRB5_CONFIG'] = resolve(cwd, o.kerberosCfgFile);
  if (o.kerberosKeytabFile) {
    env['KRB5_CLIENT_KTNAME'] = `FILE:${resolve(cwd, o.kerberosKeytabFile)}`;
    env['KRB5CCNAME'] = `MEMORY:sluice-sc-${process.pid}`;
  }
  return env;
}

/** The part of the `kerberos` package's API used here. */
export interface GssClient {
  step(challenge: string): Promise<string>;
}
export interface GssBinding {
  GSS_MECH_OID_SPNEGO: number;
  initializeClient(service: string, options: { principal?: string; mechOID?: number }): Promise<GssClient>;
}

/** What to tell a user whose Kerberos package is missing or does not load. */
export const INSTALL_HINT =
  'Kerberos needs the optional "kerberos" package (a GSSAPI binding compiled against MIT Kerberos: ' +
  'libkrb5-dev, a C++ compiler and python3 to build it). Install it beside sc with `npm install -g kerberos` ' +
  '(the same prefix as sc), or install it anywhere and point NODE_PATH at the node_modules directory that holds it';

/** Where a bare require() starts looking: this module in dist/, the bundle's file, or the single executable. */
function requireBase(): string {
  if (import.meta.url) return import.meta.url;
  // The CommonJS bundle (no import.meta; __filename is its file) or, inside a single executable, the binary.
  return typeof __filename === 'string' && __filename ? __filename : process.execPath;
}

function loadBinding(): GssBinding {
  try {
    return createRequire(requireBase())('kerberos') as GssBinding;
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const why = e.code === 'MODULE_NOT_FOUND' ? 'it is not installed' : `it does not load (${e.message})`;
    throw new KerberosConfigError(`${INSTALL_HINT}; ${why}`);
  }
}

/** The cause of a GSSAPI/Kerberos failure in words, from the library's message (major: minor). */
export function explainKerberos(message: string, principal: string): { text: string; credentials: boolean } {
  const m = message;
  const who = principal || 'the default principal';
  const rules: [RegExp, string, boolean][] = [
    [
      /Decrypt integrity check failed|Preauthentication failed|Password incorrect|bad key/i,
      `the key in --kerberos-keytab-file is not ${who}'s current key (the key was changed on the KDC since the ` +
        'keytab was exported, or the keytab is for another principal): export a new keytab',
      true,
    ],
    [
      /Ticket expired|credential has expired|Credentials cache.*expired/i,
      `the Kerberos ticket of ${who} has expired: renew it (kinit) or use --kerberos-keytab-file so sc gets its own`,
      true,
    ],
    [
      /Client's entry in database has expired/i,
      `the principal ${who} has expired on the KDC (its account end date has passed)`,
      true,
    ],
    [/Password has expired/i, `the password (key) of ${who} has expired on the KDC`, true],
    [
      /Clock skew too great/i,
      'the clocks of this machine and the KDC differ too much (more than the allowed skew)',
      true,
    ],
    [
      /Client .* not found in Kerberos database|Client not found/i,
      `the KDC does not know the principal ${who}: check --kerberos-user-name and --kerberos-user-realm`,
      true,
    ],
    [
      /Can't find client principal|No Kerberos credentials available|No credentials cache found|Key table (file )?.*not found|No key table entry found/i,
      `no credentials for ${who}: the keytab has no key for it, or (without --kerberos-keytab-file) there is no ticket (run kinit)`,
      true,
    ],
    [
      /Cannot (contact|find) any KDC|Cannot resolve network address for KDC|Cannot find KDC/i,
      'no KDC of the realm answered: check the realm and its kdc entries in --kerberos-cfg-file',
      true,
    ],
    [
      /Server .* not found in Kerberos database|Server not found/i,
      'the KDC has no service principal for this host (HTTP/<host>): ask for one, or remove the host from the Kerberos hosts',
      false,
    ],
  ];
  for (const [re, text, credentials] of rules)
    if (re.test(m)) return { text: `${text} [${m.trim()}]`, credentials };
  return { text: m.trim(), credentials: false };
}

/** Produces SPNEGO header values for `HTTP/<host>`, one fresh security context each. */
export class Negotiator {
  private constructor(
    private readonly gss: GssBinding,
    readonly principal: string,
  ) {}

  /**
   * Sets the environment, loads the binding and returns a Negotiator; throws KerberosConfigError when the
   * package is missing. `load` is for tests of the missing-package path.
   */
  static create(o: KerberosOptions, env: NodeJS.ProcessEnv = process.env, load = loadBinding): Negotiator {
    Object.assign(env, kerberosEnvironment(o));
    return new Negotiator(load(), principalOf(o));
  }

  /** `Negotiate <token>` for the service HTTP/<host>; rejects with a KerberosError naming the cause. */
  async header(host: string): Promise<string> {
    const h = host.replace(/^\[|\]$/g, '').toLowerCase();
    try {
      const client = await this.gss.initializeClient(`HTTP@${h}`, {
        ...(this.principal ? { principal: this.principal } : {}),
        mechOID: this.gss.GSS_MECH_OID_SPNEGO,
      });
      return `Negotiate ${await client.step('')}`;
    } catch (err) {
      const { text, credentials } = explainKerberos((err as Error).message, this.principal);
      throw new KerberosError(`Kerberos for HTTP/${h}: ${text}`, credentials);
    }
  }
}

/** The services sc will authenticate to that are known at start (PAC results are not). */
export function knownServices(o: KerberosOptions, proxyHost?: string, proxySauceHost?: string): string[] {
  const out = new Set<string>();
  for (const h of o.kerberosEnabledHosts) out.add(h.toLowerCase());
  if (o.kerberosAuthUpstreamProxy && proxyHost) out.add(proxyHost.toLowerCase());
  if (o.proxySauceEnableKerberosAuth && proxySauceHost) out.add(proxySauceHost.toLowerCase());
  return [...out];
}

export interface CheckResult {
  host: string;
  ok: boolean;
  error?: KerberosError;
}

/** Gets a ticket and a token for each service: what --kerberos-run-diagnostics reports and what start checks. */
export async function checkServices(n: Negotiator, hosts: readonly string[]): Promise<CheckResult[]> {
  const out: CheckResult[] = [];
  for (const host of hosts) {
    try {
      await n.header(host);
      out.push({ host, ok: true });
    } catch (err) {
      out.push({ host, ok: false, error: err as KerberosError });
    }
  }
  return out;
}

/** A start that cannot go on: bad flags or a missing package (`config`), or credentials the KDC refused. */
export class KerberosStartError extends Error {
  constructor(
    message: string,
    readonly config: boolean,
  ) {
    super(message);
  }
}

/** The log lines' view of the setup (paths and names only; a keytab's content never leaves the library). */
function setupFields(o: KerberosOptions): Record<string, string> {
  const env = kerberosEnvironment(o);
  let keys: string | undefined;
  if (o.kerberosKeytabFile) {
    try {
      keys = entriesFor(keytabEntries(readFileSync(resolve(o.kerberosKeytabFile))), principalOf(o))
        .map((e) => `kvno ${e.kvno} ${e.enctype}`)
        .join(', ');
    } catch {
      // checkKerberosOptions reports an unreadable keytab
    }
  }
  return {
    principal: principalOf(o) || '(the credentials cache default)',
    config: env['KRB5_CONFIG'] ?? process.env['KRB5_CONFIG'] ?? '/etc/krb5.conf',
    credentials: o.kerberosKeytabFile
      ? `keytab ${resolve(o.kerberosKeytabFile)}, private memory cache`
      : `cache ${process.env['KRB5CCNAME'] ?? '(default)'}`,
    ...(keys ? { keys } : {}),
  };
}

interface KerberosLog {
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

function servicesOf(o: KerberosOptions, proxyHost: (url: string) => string): string[] {
  return knownServices(
    o,
    o.proxy ? proxyHost(o.proxy) : undefined,
    o.proxySauce ? proxyHost(o.proxySauce) : undefined,
  );
}

/**
 * Kerberos at `sc run` start: checks the flags, loads the binding, and gets a ticket and a token for every
 * service known now (enabled hosts, --proxy, --proxy-sauce), so a wrong keytab or an expired ticket stops sc
 * before a tunnel exists. A service principal the KDC lacks only warns: that host's requests will fail with
 * kerberos_failed. Throws KerberosStartError.
 */
export async function startKerberos(
  o: KerberosOptions,
  log: KerberosLog,
  proxyHost: (url: string) => string,
  load?: () => GssBinding,
): Promise<Negotiator> {
  let n: Negotiator;
  try {
    checkKerberosOptions(o);
    n = Negotiator.create(o, process.env, load);
  } catch (err) {
    throw new KerberosStartError((err as Error).message, true);
  }
  log.info('Kerberos enabled', setupFields(o));
  for (const r of await checkServices(n, servicesOf(o, proxyHost))) {
    if (r.ok) log.info('Kerberos ticket acquired', { service: `HTTP/${r.host}` });
    else if (r.error?.credentials) throw new KerberosStartError(r.error.message, false);
    else log.warn('Kerberos: no ticket for this service', { error: r.error?.message });
  }
  return n;
}

/**
 * --kerberos-run-diagnostics: reports the setup, then gets a ticket and a token for each known service, one log
 * line each. Resolves true when everything worked (sc then exits 0).
 */
export async function kerberosDiagnostics(
  o: KerberosOptions,
  log: KerberosLog,
  proxyHost: (url: string) => string,
  load?: () => GssBinding,
): Promise<boolean> {
  log.info('Kerberos diagnostics', setupFields(o));
  let n: Negotiator;
  try {
    checkKerberosOptions(o);
    n = Negotiator.create(o, process.env, load);
  } catch (err) {
    log.error('Kerberos diagnostics failed', { error: (err as Error).message });
    return false;
  }
  log.info('Kerberos library loaded');
  const hosts = servicesOf(o, proxyHost);
  if (hosts.length === 0) {
    log.warn(
      'Kerberos diagnostics: no service to try; name one with --kerberos-enabled-hosts, --proxy with ' +
        '--kerberos-auth-upstream-proxy, or --proxy-sauce with --proxy-sauce-enable-kerberos-auth',
    );
    return false;
  }
  let ok = true;
  for (const r of await checkServices(n, hosts)) {
    if (r.ok) log.info('Kerberos diagnostics: ticket and token OK', { service: `HTTP/${r.host}` });
    else {
      ok = false;
      log.error('Kerberos diagnostics: FAILED', { service: `HTTP/${r.host}`, error: r.error?.message });
    }
  }
  log.info(ok ? 'Kerberos diagnostics passed' : 'Kerberos diagnostics failed');
  return ok;
}
