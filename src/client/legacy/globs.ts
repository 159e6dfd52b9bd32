/**
 * SC4's host lists (`-t`, `-D`, `-B`) in SC5 domain rules. SC4 took comma-separated host names in which `*`
 * stands for any run of characters and a leading dot means "this domain and every subdomain". SC5 rules are
 * regular expressions that this project matches against the whole host name (docs/decisions/0013): the
 * translation escapes every regex character and anchors each rule explicitly (`^...$`), so the rule means the
 * same wherever it is read. docs/legacy.md lists the translation.
 *
 *   example.com       ^example\.com$               only example.com
 *   *.example.com     ^.*\.example\.com$            a.example.com, a.b.example.com; not example.com
 *   .example.com      ^(?:.*\.)?example\.com$       example.com and every subdomain
 *   *                 all                           every host
 */

/** Characters SC4 host patterns may hold: host name characters, `*` and the dot. */
const HOST_PATTERN = /^[A-Za-z0-9_*.-]+$/;

function escape(text: string): string {
  return text.replace(/[.+?^${}()|[\]\\]/g, '\\$&');
}

/** One SC4 host pattern as an anchored SC5 rule, or an Error naming the problem. */
export function globToRule(pattern: string): string | Error {
  const p = pattern.trim().toLowerCase();
  if (p === '') return new Error('empty host name');
  if (p === '*' || p === 'all') return 'all';
  if (!HOST_PATTERN.test(p))
    return new Error(`"${pattern}" is not a host name pattern (letters, digits, "-", ".", and "*" only)`);
  if (p.startsWith('-')) return new Error(`"${pattern}" is not a host name pattern`);
  if (p.startsWith('.') && !p.startsWith('..')) {
    const rest = p.slice(1);
    if (rest === '' || rest.includes('..')) return new Error(`"${pattern}" is not a host name pattern`);
    return `^(?:.*\\.)?${escape(rest).replace(/\*/g, '.*')}$`;
  }
  if (p.includes('..') || p.startsWith('.')) return new Error(`"${pattern}" is not a host name pattern`);
  return `^${escape(p).replace(/\*/g, '.*')}$`;
}

/** A comma-separated SC4 host list as SC5 rules. */
export function hostListToRules(list: string): string[] | Error {
  const out: string[] = [];
  for (const item of list.split(',')) {
    if (item.trim() === '') continue;
    const rule = globToRule(item);
    if (rule instanceof Error) return rule;
    out.push(rule);
  }
  if (out.length === 0) return new Error('empty host list');
  return out;
}

/**
 * SC4's `--fast-fail-regexps`: regular expressions matched anywhere in the request's URL. SC5's deny rules see
 * the host name only, so an expression that needs the scheme or path (holding `/`) cannot be honoured; the
 * others are kept as substring matches on the host (`.*(?:re).*`), as SC4 matched them.
 */
export function fastFailToRules(list: string): string[] | Error {
  const out: string[] = [];
  for (const raw of list.split(',')) {
    const re = raw.trim();
    if (re === '') continue;
    if (re.includes('/'))
      return new Error(
        `"${re}" matches URL paths or schemes; SC5-style deny rules match host names only (write a host pattern)`,
      );
    try {
      new RegExp(re);
    } catch (err) {
      return new Error(`"${re}" is not a regular expression: ${(err as Error).message}`);
    }
    out.push(`.*(?:${re}).*`);
  }
  if (out.length === 0) return new Error('empty list');
  return out;
}
