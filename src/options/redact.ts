/** Options shown to people (/configz, the startup log): rendered as flag text, secrets masked. */
import type { OptionSource } from './config-error.js';
import { formatDuration } from './duration.js';
import { propertyName, type FlagDef, type FlagValue } from './flag.js';
import type { RunOptions } from './run-options.js';
import { RUN_FLAGS } from './run-flags.js';

/** The value as it would be written on the command line. */
export function formatValue(f: FlagDef, value: FlagValue): string {
  if (f.type === 'duration') return formatDuration(value as number);
  if (Array.isArray(value)) return value.join(',');
  if (typeof value === 'object')
    return Object.entries(value)
      .map(([k, v]) => `${k}=${v}`)
      .join(',');
  return String(value);
}

function masked(f: FlagDef, value: FlagValue): string {
  if (!f.secret) return formatValue(f, value);
  if (f.secret === true) return formatValue(f, value) === '' ? '' : '****';
  const mask = f.secret;
  const text = formatValue(f, value);
  return Array.isArray(value) ? value.map((v) => mask(v)).join(',') : text === '' ? '' : mask(text);
}

/** Every option by long flag name, secrets masked: the body of /configz. */
export function redactedConfig(
  options: RunOptions | object,
  flags: readonly FlagDef[] = RUN_FLAGS,
): Record<string, string> {
  const o = options as unknown as Record<string, FlagValue>;
  const out: Record<string, string> = {};
  for (const f of flags) out[f.name] = masked(f, o[propertyName(f.name)]!);
  return out;
}

/** Only the options that differ from their defaults (what the startup log lists), secrets masked. */
export function changedOptions(
  options: RunOptions | object,
  sources: Record<string, OptionSource>,
  flags: readonly FlagDef[] = RUN_FLAGS,
): Record<string, string> {
  const o = options as unknown as Record<string, FlagValue>;
  const out: Record<string, string> = {};
  for (const f of flags) {
    const v = o[propertyName(f.name)]!;
    if (sources[f.name] === 'default' || JSON.stringify(v) === JSON.stringify(f.default)) continue;
    out[f.name] = masked(f, v);
  }
  return out;
}

/** Raw secret strings to scrub from any log line, as a last line of defence. */
export function secretValues(options: RunOptions | object, flags: readonly FlagDef[] = RUN_FLAGS): string[] {
  const o = options as unknown as Record<string, FlagValue>;
  const out: string[] = [];
  for (const f of flags) {
    if (!f.secret) continue;
    const v = o[propertyName(f.name)]!;
    for (const item of Array.isArray(v) ? v : [formatValue(f, v)]) {
      if (f.secret === true) {
        if (item.length >= 4) out.push(item);
        continue;
      }
      // The secret is what the mask removed: the text between the common prefix and suffix.
      const m = f.secret(item);
      let pre = 0;
      while (pre < m.length && pre < item.length && m[pre] === item[pre]) pre++;
      let suf = 0;
      while (suf < m.length - pre && suf < item.length - pre && m.at(-1 - suf) === item.at(-1 - suf)) suf++;
      const secret = item.slice(pre, item.length - suf).trim();
      if (secret.length >= 4) out.push(secret);
    }
  }
  return out;
}

/**
 * The command line with the values of secret flags replaced by ****, for the process title: `ps` and
 * /proc/PID/cmdline then show this instead of the access key (docs/security.md; Linux, via libuv, which rewrites
 * the argv area, so the title can be no longer than the original command line and is cut to fit).
 */
export function maskedArgv(argv: readonly string[], flags: readonly FlagDef[]): string[] {
  const secret = (name: string): boolean =>
    flags.some(
      (f) => f.secret && (name === `--${f.name}` || (f.short !== undefined && name === `-${f.short}`)),
    );
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const eq = arg.indexOf('=');
    if (arg.startsWith('--') && eq > 0 && secret(arg.slice(0, eq))) out.push(`${arg.slice(0, eq)}=****`);
    else if (secret(arg) && i + 1 < argv.length) {
      out.push(arg, '****');
      i++;
    } else out.push(arg);
  }
  return out;
}
