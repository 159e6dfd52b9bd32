/**
 * `--header` rules (SC5's syntax), applied in order to every request sc sends to a target, on both plain-HTTP
 * paths (the pipeline's RequestRules.headers hook):
 *
 *   `Name: value`  adds a field (appends; existing fields of that name stay)
 *   `Name;`        sets the field to the empty value (replacing any)
 *   `-Name`        removes the field
 *   `-Prefix*`     removes every field whose name starts with Prefix
 *
 * Names match without case and are written canonically (`x-test` -> `X-Test`).
 */
import type { Fields } from './pipeline.js';

export type HeaderRule =
  | { op: 'add'; name: string; value: string }
  | { op: 'empty'; name: string }
  | { op: 'remove'; name: string }
  | { op: 'removePrefix'; prefix: string };

/** `x-forwarded-for` -> `X-Forwarded-For` (Go's canonical MIME header key). */
export function canonicalName(name: string): string {
  return name.toLowerCase().replace(/(^|-)([a-z])/g, (_m, sep: string, ch: string) => sep + ch.toUpperCase());
}

export function parseHeaderRule(value: string): HeaderRule {
  let m = /^-([A-Za-z0-9-]+)\*$/.exec(value);
  if (m) return { op: 'removePrefix', prefix: m[1]!.toLowerCase() };
  m = /^-([A-Za-z0-9-]+)$/.exec(value);
  if (m) return { op: 'remove', name: m[1]!.toLowerCase() };
  m = /^([A-Za-z0-9-]+);$/.exec(value);
  if (m) return { op: 'empty', name: canonicalName(m[1]!) };
  m = /^([A-Za-z0-9-]+):(.*)$/s.exec(value);
  if (m) {
    const v = m[2]!.trim();
    if (/[\r\n\0]/.test(v)) throw new Error('a header value may not hold CR, LF or NUL');
    return { op: 'add', name: canonicalName(m[1]!), value: v };
  }
  throw new Error('expected "Name: value", "Name;", "-Name" or "-Prefix*"');
}

export class HeaderRules {
  readonly rules: HeaderRule[];

  constructor(values: readonly string[]) {
    this.rules = values.map(parseHeaderRule);
  }

  get size(): number {
    return this.rules.length;
  }

  /** Applies every rule, in order, to `fields` (edited in place). */
  apply(fields: Fields): void {
    for (const r of this.rules) {
      switch (r.op) {
        case 'add':
          fields.push([r.name, r.value]);
          break;
        case 'empty': {
          const l = r.name.toLowerCase();
          removeWhere(fields, (n) => n === l);
          fields.push([r.name, '']);
          break;
        }
        case 'remove':
          removeWhere(fields, (n) => n === r.name);
          break;
        case 'removePrefix':
          removeWhere(fields, (n) => n.startsWith(r.prefix));
          break;
      }
    }
  }
}

function removeWhere(fields: Fields, drop: (lowerName: string) => boolean): void {
  let j = 0;
  for (let i = 0; i < fields.length; i++) {
    const f = fields[i]!;
    if (!drop(f[0].toLowerCase())) fields[j++] = f;
  }
  fields.length = j;
}
