/**
 * An SC4 command line to the `sc run` command line, through the one table (mapping.ts). SC4 parsed its flags
 * with getopt_long: `--name value`, `--name=value`, `-x value`, `-xvalue`, grouped switches (`-vv`, `-sT`).
 * Only the translation happens here; the SC5 flags it yields are checked by the `sc run` parser.
 */
import { resolve } from 'node:path';
import { ConfigError } from '../../options/config-error.js';
import { readConfigFile } from '../../options/config-file.js';
import { envName } from '../../options/flag.js';
import { RUN_SPEC } from '../../options/parse.js';
import { suggestName } from '../../options/suggest.js';
import { LEGACY_DEFAULTS, LEGACY_FLAGS, type LegacyFlag } from './mapping.js';

export class LegacyError extends Error {}

export interface Translation {
  /** The `sc run` argv (flags only). */
  argv: string[];
  /** One line per flag that is ignored or changed meaning, and per default applied. */
  warnings: string[];
  readyfile?: string;
  pidfile?: string;
  /** --output-config-file: write the `sc run` config there instead of running. */
  outputConfigFile?: string;
  help: boolean;
  version: boolean;
}

const byName = new Map<string, LegacyFlag>();
const byShort = new Map<string, LegacyFlag>();
for (const f of LEGACY_FLAGS) {
  for (const n of [f.name, ...(f.aliases ?? [])]) {
    if (byName.has(n)) throw new Error(`sc legacy: --${n} is declared twice`);
    byName.set(n, f);
  }
  if (f.short) {
    if (byShort.has(f.short)) throw new Error(`sc legacy: -${f.short} is declared twice`);
    byShort.set(f.short, f);
  }
}

/** `--api-key` for SC4's long name, `-k` when given short: how the user wrote it, for messages. */
function label(f: LegacyFlag): string {
  return f.short ? `-${f.short}/--${f.name}` : `--${f.name}`;
}

/** Reads an SC4 argv into values per flag (every occurrence, in order), in the order first seen. */
function readArgv(argv: readonly string[]): {
  values: Map<string, string[]>;
  help: boolean;
  version: boolean;
} {
  const values = new Map<string, string[]>();
  let help = false;
  let version = false;
  const add = (f: LegacyFlag, v: string): void => {
    const list = values.get(f.name) ?? [];
    list.push(v);
    values.set(f.name, list);
  };
  const names = [...byName.keys(), 'help', 'version'];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '-h' || arg === '--help') {
      help = true;
      continue;
    }
    if (arg === '--version') {
      version = true;
      continue;
    }
    if (arg.startsWith('--') && arg.length > 2) {
      const eq = arg.indexOf('=');
      const name = arg.slice(2, eq < 0 ? undefined : eq);
      const f = byName.get(name);
      if (!f) {
        const sc5 = RUN_SPEC.byName.has(name)
          ? ` (--${name} is an sc run flag: use sc run for SC5 command lines)`
          : suggestName(name, names);
        throw new LegacyError(`unknown SC4 flag --${name}${sc5}`);
      }
      if (!f.value) {
        if (eq >= 0) throw new LegacyError(`--${name} takes no value`);
        add(f, 'true');
      } else if (eq >= 0) add(f, arg.slice(eq + 1));
      else if (i + 1 < argv.length) add(f, argv[++i]!);
      else throw new LegacyError(`--${name} needs a value`);
      continue;
    }
    if (arg.startsWith('-') && arg.length > 1) {
      for (let j = 1; j < arg.length; j++) {
        const c = arg[j]!;
        if (c === 'h') {
          help = true;
          continue;
        }
        const f = byShort.get(c);
        if (!f) throw new LegacyError(`unknown SC4 flag -${c}${arg.length > 2 ? ` in ${arg}` : ''}`);
        if (!f.value) {
          add(f, 'true');
          continue;
        }
        let rest = arg.slice(j + 1);
        if (rest.startsWith('=')) rest = rest.slice(1);
        else if (rest === '') {
          if (i + 1 >= argv.length) throw new LegacyError(`${label(f)} needs a value`);
          rest = argv[++i]!;
        }
        add(f, rest);
        break;
      }
      continue;
    }
    throw new LegacyError(`unexpected argument "${arg}": sc legacy takes only SC4 flags`);
  }
  return { values, help, version };
}

/** Is this `sc run` option declared but refused as "not supported yet"? */
function unsupported(flag: string): boolean {
  return RUN_SPEC.byName.get(flag)?.unsupported === true;
}

/**
 * SC4's `-c` file as command-line arguments: a YAML mapping of SC4 long flag names to a value, a list of values
 * (each one an occurrence of the flag), or true/false for switches. Errors name the key, never its value.
 */
function configArgv(path: string): string[] {
  let data: Record<string, unknown>;
  try {
    data = readConfigFile(path, 'sc legacy -c');
  } catch (err) {
    if (err instanceof ConfigError) throw new LegacyError(err.message);
    throw err;
  }
  const out: string[] = [];
  for (const [key, value] of Object.entries(data)) {
    const f = byName.get(key);
    if (!f || f.name === 'config-file' || f.name === 'output-config-file')
      throw new LegacyError(
        `config file ${path}: unknown SC4 key "${key}"${f ? '' : suggestName(key, [...byName.keys()])}`,
      );
    for (const v of Array.isArray(value) ? (value as unknown[]) : [value]) {
      if (!f.value) {
        if (v === true || v === 'true') out.push(`--${key}`);
        else if (!(v === false || v === 'false' || v === null))
          throw new LegacyError(`config file ${path}: "${key}" is a switch: use true or false`);
      } else if (typeof v === 'string' || typeof v === 'number') out.push(`--${key}=${v}`);
      else throw new LegacyError(`config file ${path}: "${key}" needs a value or a list of values`);
    }
  }
  return out;
}

/**
 * SC4 argv -> `sc run` argv. `env` decides whether a legacy default applies (SAUCE_* env wins over it); a `-c`
 * file is read relative to `cwd`, its settings placed before the command line's (which win).
 */
export function translateLegacy(
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
  cwd: string = process.cwd(),
): Translation {
  let parsed = readArgv(argv);
  const config = parsed.values.get('config-file');
  if (config) parsed = readArgv([...configArgv(resolve(cwd, config[config.length - 1]!)), ...argv]);
  const { values, help, version } = parsed;
  const out: string[] = [];
  const warnings: string[] = [];
  const set = new Set<string>();
  const t: Translation = { argv: out, warnings, help, version };
  for (const [name, vals] of values) {
    const f = byName.get(name)!;
    const a = f.action;
    switch (a.kind) {
      case 'error':
        throw new LegacyError(`${label(f)} cannot be honoured: ${a.reason}`);
      case 'ignored':
        warnings.push(`${label(f)} is ignored: ${a.warning}`);
        break;
      case 'own':
        if (f.name === 'readyfile') t.readyfile = vals[vals.length - 1];
        else if (f.name === 'pidfile') t.pidfile = vals[vals.length - 1];
        else if (f.name === 'output-config-file') t.outputConfigFile = vals[vals.length - 1];
        break;
      case 'map': {
        const flags = a.transform
          ? a.transform(vals, values)
          : [[a.to, vals[vals.length - 1]!] as [string, string]];
        if (flags instanceof Error) throw new LegacyError(`invalid ${label(f)}: ${flags.message}`);
        if (a.whileUnsupported && flags.some(([to]) => unsupported(to))) {
          warnings.push(`${label(f)} is ignored: ${a.whileUnsupported}`);
          break;
        }
        for (const [to, v] of flags) {
          out.push(`--${to}=${v}`);
          set.add(to);
        }
        break;
      }
    }
  }
  for (const d of LEGACY_DEFAULTS) {
    if (set.has(d.flag) || env[envName(d.flag)] !== undefined) continue;
    out.push(`--${d.flag}=${d.value}`);
    if (d.flag === 'tunnel-name')
      warnings.push(
        `no -i/--tunnel-identifier: the tunnel is named "${d.value}" (${d.why}); tests select it with tunnelName "${d.value}"`,
      );
  }
  return t;
}

/** The SC4 flags whose values are secrets, as flag definitions for maskedArgv (the process title). */
export const LEGACY_SECRET_FLAGS = LEGACY_FLAGS.filter((f) => f.secret).flatMap((f) =>
  [f.name, ...(f.aliases ?? [])].map((name) => ({
    name,
    short: f.short,
    type: 'string' as const,
    default: '',
    group: 'Hidden' as const,
    description: '',
    secret: true as const,
  })),
);
