/**
 * `sc legacy --output-config-file`: the translated command line as an `sc run` config file (YAML; keys are the
 * `sc run` long flag names, as docs/config.md), for moving a CI setup from SC4 flags to `sc run -c`.
 */
import { chmodSync, writeFileSync } from 'node:fs';
import { stringify } from 'yaml';
import { RUN_SPEC } from '../../options/parse.js';
import type { Translation } from './translate.js';

/** The YAML text of the `sc run` options in `t.argv`, with the notes of the translation as comments. */
export function sc5ConfigText(t: Translation, source: string): string {
  const config: Record<string, unknown> = {};
  for (const arg of t.argv) {
    const m = /^--([^=]+)=(.*)$/s.exec(arg);
    if (!m) continue;
    const [, name, value] = m as unknown as [string, string, string];
    const f = RUN_SPEC.byName.get(name);
    if (!f) continue;
    if (f.type === 'list' || f.type === 'map') config[name] = [...((config[name] as string[]) ?? []), value];
    else if (f.type === 'bool') config[name] = value === 'true';
    else if (f.type === 'int') config[name] = Number(value);
    else config[name] = value;
  }
  const notes = [
    `sc run config translated by "sc legacy" from ${source}. Run it with: sc run -c <this file>`,
    ...t.warnings.map((w) => `note: ${w}`),
  ];
  if (t.readyfile)
    notes.push(
      `note: --readyfile ${t.readyfile} has no sc run equivalent: wait for /readyz of --api-address, or "sc ready"`,
    );
  if (t.pidfile) notes.push(`note: --pidfile ${t.pidfile} has no sc run equivalent: use $! in the script`);
  return notes.map((n) => `# ${n}\n`).join('') + stringify(config);
}

/** Writes it owner-only: it may hold the access key. */
export function writeSc5Config(path: string, t: Translation, source: string): void {
  writeFileSync(path, sc5ConfigText(t, source), { mode: 0o600 });
  chmodSync(path, 0o600);
}
