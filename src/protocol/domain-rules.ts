/**
 * Domain rules' meaning, one implementation for both programs: which hosts go through the tunnel, go direct from
 * the server, or are denied (sc run --tunnel-domains, --direct-domains, --deny-domains; docs/routing.md,
 * docs/decisions/0013-domain-rules.md). Each pattern must match the WHOLE host name (compiled as ^(?:pattern)$,
 * case-insensitively, against the normalised host); a leading `-` makes a rule an exclusion; `all` means every
 * host; deny rules first, then tunnel_domains (others direct) or direct_domains (others tunnelled).
 *
 * The regular-expression engine is a parameter: the server matches with RE2 (src/server/routing/domain-rules.ts,
 * linear time, since the patterns come from users and run on the shared server); `sc doctor`, which carries no
 * RE2, reports a route with JavaScript's RegExp, which reads the RE2 subset the server accepts the same way.
 */

/** A compiled pattern. */
export interface HostMatcher {
  test(host: string): boolean;
}

export interface RuleEngine {
  /** Named in errors: "RE2 syntax". */
  syntax: string;
  /** Compiles an anchored pattern case-insensitively; throws on invalid syntax. */
  compile(anchored: string): HostMatcher;
}

export interface RuleLists {
  tunnelDomains: readonly string[];
  directDomains: readonly string[];
  denyDomains: readonly string[];
  /** TLS resigning (docs/routing.md): absent or both empty means resign every tunnelled CONNECT, as SC5 5.2+. */
  tlsResignDomains?: readonly string[];
  tlsPassthroughDomains?: readonly string[];
}

/** What happens to a tunnelled CONNECT's TLS: terminated by the server with a resigned leaf, or carried untouched. */
export type TlsMode = 'resign' | 'passthrough';

export type Route =
  { action: 'tunnel' } | { action: 'direct'; rule: string } | { action: 'deny'; rule: string };

interface Compiled {
  source: string;
  re: HostMatcher;
}

/** Compiles one rule; throws an Error naming the rule when the engine refuses it. */
function compileOne(rule: string, engine: RuleEngine): { exclude: boolean; compiled: Compiled } {
  if (/\s/.test(rule)) throw new Error(`"${rule}": domain rules contain no spaces`);
  const exclude = rule.startsWith('-');
  const body = exclude ? rule.slice(1) : rule;
  if (body === '') throw new Error('empty domain rule');
  if (body.startsWith('*'))
    throw new Error(`"${body}" is not a regular expression: write .*\\. instead of *.`);
  const pattern = body === 'all' ? '.*' : body;
  try {
    return { exclude, compiled: { source: rule, re: engine.compile(`^(?:${pattern})$`) } };
  } catch (err) {
    throw new Error(
      `"${rule}" is an invalid regular expression (${engine.syntax}): ${(err as Error).message}`,
      { cause: err },
    );
  }
}

/** Checks one rule; returns the problem, or undefined when it is fine. */
export function checkRule(rule: string, engine: RuleEngine): string | undefined {
  try {
    compileOne(rule, engine);
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

/** One list of rules: a host matches when some include matches and no exclude does. */
export class RuleSet {
  private readonly includes: Compiled[] = [];
  private readonly excludes: Compiled[] = [];

  constructor(rules: readonly string[], engine: RuleEngine) {
    for (const r of rules) {
      const { exclude, compiled } = compileOne(r, engine);
      (exclude ? this.excludes : this.includes).push(compiled);
    }
  }

  get empty(): boolean {
    return this.includes.length === 0 && this.excludes.length === 0;
  }

  /** The include rule that matches `host` (normalised), or undefined. */
  match(host: string): string | undefined {
    if (this.excludes.some((c) => c.re.test(host))) return undefined;
    return this.includes.find((c) => c.re.test(host))?.source;
  }
}

/** Lower-case, no brackets around IPv6, no trailing dot. */
export function normaliseHost(host: string): string {
  let h = host.toLowerCase();
  if (h.startsWith('[') && h.endsWith(']')) h = h.slice(1, -1);
  if (h.endsWith('.')) h = h.slice(0, -1);
  return h;
}

export class DomainRules {
  private readonly tunnel: RuleSet;
  private readonly direct: RuleSet;
  private readonly deny: RuleSet;
  private readonly resign: RuleSet;
  private readonly passthrough: RuleSet;

  /** Throws an Error naming the list and the rule when one does not compile or the lists conflict. */
  constructor(lists: RuleLists, engine: RuleEngine) {
    const build = (key: string, rules: readonly string[]): RuleSet => {
      try {
        return new RuleSet(rules, engine);
      } catch (err) {
        throw new Error(`${key}: ${(err as Error).message}`, { cause: err });
      }
    };
    this.tunnel = build('tunnel_domains', lists.tunnelDomains);
    this.direct = build('direct_domains', lists.directDomains);
    this.deny = build('deny_domains', lists.denyDomains);
    this.resign = build('tls_resign_domains', lists.tlsResignDomains ?? []);
    this.passthrough = build('tls_passthrough_domains', lists.tlsPassthroughDomains ?? []);
    if (!this.tunnel.empty && !this.direct.empty) {
      throw new Error('tunnel_domains and direct_domains exclude each other');
    }
    if (!this.resign.empty && !this.passthrough.empty) {
      throw new Error('tls_resign_domains and tls_passthrough_domains exclude each other');
    }
  }

  /** True when any rule is set (such tunnels are not spliced: every request is routed here). */
  get any(): boolean {
    return !this.tunnel.empty || !this.direct.empty || !this.deny.empty;
  }

  /** Where a request for `host` goes: deny rules first, then tunnel_domains (others direct) or direct_domains. */
  decide(rawHost: string): Route {
    const host = normaliseHost(rawHost);
    const denied = this.deny.match(host);
    if (denied !== undefined) return { action: 'deny', rule: `deny_domains "${denied}"` };
    if (!this.tunnel.empty) {
      return this.tunnel.match(host) !== undefined
        ? { action: 'tunnel' }
        : { action: 'direct', rule: 'not in tunnel_domains' };
    }
    const direct = this.direct.match(host);
    if (direct !== undefined) return { action: 'direct', rule: `direct_domains "${direct}"` };
    return { action: 'tunnel' };
  }

  /**
   * Whether a tunnelled CONNECT to `host` is resigned: with tls_passthrough_domains, every host but those; with
   * tls_resign_domains, only those; with neither, every host (SC5's default since 5.2). Direct hosts are never
   * resigned (the caller decides direct first).
   */
  tls(rawHost: string): TlsMode {
    const host = normaliseHost(rawHost);
    if (!this.passthrough.empty) return this.passthrough.match(host) !== undefined ? 'passthrough' : 'resign';
    if (!this.resign.empty) return this.resign.match(host) !== undefined ? 'resign' : 'passthrough';
    return 'resign';
  }
}
