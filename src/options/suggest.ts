/** "Did you mean" for unknown flags and config keys, including SC4 names that SC5 renamed. */

/** SC4 flags renamed in SC5 (SC5 migration guide): users upgrading scripts hit these first. */
const RENAMED: Record<string, string> = {
  user: '--username',
  'api-key': '--access-key',
  logfile: '--log-file',
  'shared-tunnel': '--shared all',
  dns: '--dns-server',
  cainfo: '--cacert-file',
  verbose: '--log-level debug (and --log-http)',
  'fast-fail-regexps': '--deny-domains',
  'no-ssl-bump-domains': '--tls-passthrough-domains',
  'pac-auth': '--auth',
  'proxy-userpwd': '--auth',
  'proxy-tunnel': '--proxy-sauce',
  'status-address': '--api-address',
  'tunnel-identifier': '--tunnel-name',
  'no-remove-colliding-tunnels': '--tunnel-pool',
};

const REMOVED = new Set([
  'autodetect',
  'doctor',
  'experimental',
  'extra-info',
  'log-stats',
  'max-logsize',
  'ocsp',
  'output-format',
  'pidfile',
  'readyfile',
  'se-port',
  'tunnel-cainfo',
  'vm-version',
]);

function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return row[b.length]!;
}

/** A hint sentence for an unknown option name, or '' when nothing is close. */
export function suggestName(unknown: string, known: readonly string[]): string {
  const name = unknown.toLowerCase().replace(/_/g, '-');
  if (RENAMED[name]) return ` (SC4's --${name} is ${RENAMED[name]} in SC5)`;
  if (REMOVED.has(name)) return ` (SC4's --${name} was removed in SC5)`;
  let best = '';
  let bestD = Infinity;
  for (const k of known) {
    const d = distance(name, k);
    if (d < bestD) [best, bestD] = [k, d];
  }
  const prefixHit = known.find((k) => k.startsWith(name) || name.startsWith(k));
  if (bestD <= Math.max(2, Math.floor(name.length / 3))) return `, did you mean --${best}?`;
  return prefixHit ? `, did you mean --${prefixHit}?` : '';
}

/**
 * SAUCE_* variables that look like a misspelt option (other tools use SAUCE_* too, so only near misses count):
 * one hint per variable, for a warning at start.
 */
export function envHints(env: NodeJS.ProcessEnv, knownFlags: readonly string[]): string[] {
  const hints: string[] = [];
  const known = new Set(knownFlags.map((f) => 'SAUCE_' + f.toUpperCase().replace(/-/g, '_')));
  for (const name of Object.keys(env)) {
    if (!name.startsWith('SAUCE_') || known.has(name) || !env[name]) continue;
    const flag = name.slice(6).toLowerCase().replace(/_/g, '-');
    let best = '';
    let bestD = Infinity;
    for (const k of knownFlags) {
      const d = distance(flag, k);
      if (d < bestD) [best, bestD] = [k, d];
    }
    if (bestD > 0 && bestD <= 2)
      hints.push(`${name} is not an sc option, did you mean SAUCE_${best.toUpperCase().replace(/-/g, '_')}?`);
  }
  return hints;
}
