/**
 * New-session requests: what the gateway reads from them (credentials and the tunnel in `sauce:options`) and
 * what it sends upstream instead (no `sauce:options`, and for a tunnel session the `proxy` capability pointing at
 * the session's own proxy port plus the Chrome arguments that make loopback targets and resigned certificates
 * go through it). Pure functions: test/unit/gateway-capabilities.test.ts checks them.
 */
import { WebDriverError } from './w3c.js';

export interface SauceOptions {
  username: string | null;
  accessKey: string | null;
  tunnelName: string | null;
  tunnelOwner: string | null;
}

type Caps = Record<string, unknown>;

export interface NewSessionRequest {
  sauce: SauceOptions;
  /** alwaysMatch and firstMatch with every `sauce:options` removed. */
  alwaysMatch: Caps;
  firstMatch: Caps[];
}

const isObject = (v: unknown): v is Caps => typeof v === 'object' && v !== null && !Array.isArray(v);

const bad = (message: string): WebDriverError => new WebDriverError('invalid argument', message);

function text(o: Caps, keys: string[], what: string): string | null {
  for (const k of keys) {
    const v = o[k];
    if (v === undefined || v === null || v === '') continue;
    if (typeof v !== 'string' || v.length > 256 || !/^[\x20-\x7e]+$/.test(v)) {
      throw bad(`sauce:options.${k} must be ${what} (1-256 printable ASCII characters)`);
    }
    return v;
  }
  return null;
}

function sauceOptions(o: Caps): SauceOptions {
  return {
    username: text(o, ['username'], 'a user name'),
    accessKey: text(o, ['accessKey', 'access_key'], 'an access key'),
    tunnelName: text(o, ['tunnelName', 'tunnelIdentifier'], 'a tunnel name'),
    tunnelOwner: text(o, ['tunnelOwner', 'parentTunnel'], 'a user name'),
  };
}

/** Parses the body of `POST /session`; throws `invalid argument` naming what is wrong. */
export function parseNewSession(raw: unknown): NewSessionRequest {
  if (!isObject(raw)) throw bad('the new session body must be a JSON object');
  const caps = raw['capabilities'];
  if (!isObject(caps)) {
    throw bad('expected {"capabilities": {"alwaysMatch": {...}, "firstMatch": [...]}} (W3C new session)');
  }
  const always = caps['alwaysMatch'] ?? {};
  const first = caps['firstMatch'] ?? [{}];
  if (!isObject(always)) throw bad('capabilities.alwaysMatch must be an object');
  if (!Array.isArray(first) || first.length === 0 || !first.every(isObject)) {
    throw bad('capabilities.firstMatch must be a non-empty array of objects');
  }
  const entries = [always, ...first];
  const found = entries.filter((e) => e['sauce:options'] !== undefined);
  for (const e of found) if (!isObject(e['sauce:options'])) throw bad('sauce:options must be an object');
  // alwaysMatch's sauce:options wins; else the first firstMatch entry that has one (clients put it in one place).
  const sauce = sauceOptions((found[0]?.['sauce:options'] as Caps | undefined) ?? {});
  const strip = (e: Caps): Caps => {
    const { 'sauce:options': _drop, ...rest } = e;
    return rest;
  };
  return { sauce, alwaysMatch: strip(always), firstMatch: first.map(strip) };
}

export interface ProxyInjection {
  /** host:port of the session's proxy port. */
  proxy: string;
  /** Base64 SHA-256 SPKI hashes whose certificates the browser accepts (the resigning key, trusted test keys). */
  spkis: string[];
}

const PROXY_ARGS = /^--(proxy-server|proxy-bypass-list|proxy-pac-url|no-proxy-server|proxy-auto-detect)(=|$)/;
const CHROMIUM_OPTIONS = ['goog:chromeOptions', 'ms:edgeOptions'];

function withArgs(options: unknown, name: string, args: string[]): Caps {
  if (options !== undefined && !isObject(options)) throw bad(`${name} must be an object`);
  const o = options ?? {};
  const old = o['args'] ?? [];
  if (!Array.isArray(old) || !old.every((a) => typeof a === 'string')) {
    throw bad(`${name}.args must be an array of strings`);
  }
  const clash = old.find((a) => PROXY_ARGS.test(a));
  if (clash) throw bad(`${name}.args: ${clash.split('=')[0]} conflicts with the tunnel's proxy (tunnelName)`);
  return { ...o, args: [...old, ...args] };
}

const isFirefox = (e: Caps): boolean =>
  e['moz:firefoxOptions'] !== undefined ||
  (typeof e['browserName'] === 'string' && e['browserName'].toLowerCase() === 'firefox');

/**
 * The upstream's new-session body. Without a tunnel nothing is added (as on Sauce Labs). With one: the `proxy`
 * capability (manual, http and https to the session's port), and for Chromium-based browsers
 * `--proxy-bypass-list=<-loopback>` (else Chrome never proxies localhost) and `--ignore-certificate-errors-spki-list`;
 * Firefox gets `network.proxy.allow_hijacking_localhost`.
 */
export function upstreamNewSession(req: NewSessionRequest, inject: ProxyInjection | null): Caps {
  const entries = [req.alwaysMatch, ...req.firstMatch].map((e) => ({ ...e }));
  if (inject) {
    if (entries.some((e) => e['proxy'] !== undefined)) {
      throw bad('the proxy capability cannot be combined with tunnelName: the gateway sets it to the tunnel');
    }
    entries[0]!['proxy'] = { proxyType: 'manual', httpProxy: inject.proxy, sslProxy: inject.proxy };
    const args = ['--proxy-bypass-list=<-loopback>'];
    if (inject.spkis.length) args.push(`--ignore-certificate-errors-spki-list=${inject.spkis.join(',')}`);
    let placed = false;
    for (const e of entries) {
      for (const name of CHROMIUM_OPTIONS) {
        if (e[name] === undefined) continue;
        e[name] = withArgs(e[name], name, args);
        placed = true;
      }
    }
    // No entry names Chromium options: add Chrome's to alwaysMatch (other drivers ignore an extension capability).
    if (!placed) entries[0]!['goog:chromeOptions'] = withArgs(undefined, 'goog:chromeOptions', args);
    const ffEntries = entries.filter((e) => e['moz:firefoxOptions'] !== undefined);
    for (const e of ffEntries.length ? ffEntries : entries.filter(isFirefox)) {
      const ff = e['moz:firefoxOptions'] ?? {};
      if (!isObject(ff)) throw bad('moz:firefoxOptions must be an object');
      const prefs = ff['prefs'] ?? {};
      if (!isObject(prefs)) throw bad('moz:firefoxOptions.prefs must be an object');
      e['moz:firefoxOptions'] = {
        ...ff,
        prefs: { ...prefs, 'network.proxy.allow_hijacking_localhost': true },
      };
    }
  }
  const [alwaysMatch, ...firstMatch] = entries;
  return { capabilities: { alwaysMatch, firstMatch } };
}
