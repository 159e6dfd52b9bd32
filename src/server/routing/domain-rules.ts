/**
 * Domain rules on the server: the one implementation of their meaning (src/protocol/domain-rules.ts) bound to RE2
 * (sc run --tunnel-domains, --direct-domains, --deny-domains; docs/routing.md).
 *
 * Patterns come from users and run on the server, so they are RE2 expressions (re2js: linear-time matching, no
 * backtracking, so no pattern can stall the proxy entry). Each pattern must match the WHOLE host name: it is
 * compiled as ^(?:pattern)$, case-insensitively (docs/decisions/0013-domain-rules.md). A leading `-` makes a rule
 * an exclusion; `all` means every host.
 */
import { RE2JS } from 're2js';
import * as rules from '../../protocol/domain-rules.js';

export { normaliseHost, type Route, type RuleLists, type TlsMode } from '../../protocol/domain-rules.js';

/** RE2, case-insensitive. */
export const RE2_ENGINE: rules.RuleEngine = {
  syntax: 'RE2 syntax',
  compile: (anchored) => RE2JS.compile(anchored, RE2JS.CASE_INSENSITIVE),
};

/** Checks one rule as a flag value; returns the problem, or undefined when it is fine. */
export function checkDomainRule(rule: string): string | undefined {
  return rules.checkRule(rule, RE2_ENGINE);
}

/** One list of rules: a host matches when some include matches and no exclude does. */
export class RuleSet extends rules.RuleSet {
  constructor(list: readonly string[]) {
    super(list, RE2_ENGINE);
  }
}

export class DomainRules extends rules.DomainRules {
  /** Throws an Error naming the list and the rule when one does not compile or the lists conflict. */
  constructor(lists: rules.RuleLists) {
    super(lists, RE2_ENGINE);
  }
}

const cache = new WeakMap<object, DomainRules | Error>();

/** The compiled rules of a tunnel record, compiled once per record object. */
export function rulesOf(record: rules.RuleLists): DomainRules | Error {
  let r = cache.get(record);
  if (!r) {
    try {
      r = new DomainRules(record);
    } catch (err) {
      r = err as Error;
    }
    cache.set(record, r);
  }
  return r;
}
