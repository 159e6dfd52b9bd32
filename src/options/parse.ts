/**
 * One parser for the command line, SAUCE_* env vars and the config file, SC5's precedence:
 * flag > env > config file > default, decided per option (a list from one source replaces, never merges with,
 * the lists of lower sources). Every value is converted and checked the same way whatever its source, and
 * every error names the flag and where the bad value came from.
 */
import { resolve } from 'node:path';
import { ConfigError, type OptionSource } from './config-error.js';
import { readConfigFile } from './config-file.js';
import { parseDuration, formatDuration } from './duration.js';
import { envName, propertyName, type FlagDef, type FlagValue } from './flag.js';
import type { RunOptions } from './run-options.js';
import { EXCLUSIVE_PAIRS, FLAG_BY_NAME, FLAG_BY_SHORT, RUN_FLAGS } from './run-flags.js';
import { suggestName } from './suggest.js';

export interface ParsedRunOptions {
  options: RunOptions;
  /** Keyed by long flag name. */
  sources: Record<string, OptionSource>;
}

interface Raw {
  source: Exclude<OptionSource, 'default'>;
  /** Human wording of the source, used in errors: "the command line", "env SAUCE_X", "config file f (key x)". */
  where: string;
  value: unknown;
}

const NAMES = RUN_FLAGS.map((f) => f.name);

/** The option values when nothing is set (tunnel-connections depends on the CPU count). */
export function defaultRunOptions(): RunOptions {
  const o: Record<string, unknown> = {};
  for (const f of RUN_FLAGS) o[propertyName(f.name)] = clone(f.default);
  return o as unknown as RunOptions;
}

function clone(v: FlagValue): FlagValue {
  if (Array.isArray(v)) return [...v];
  if (typeof v === 'object') return { ...v };
  return v;
}

/** pflag-style argv: --name value, --name=value, -x value, -xvalue, -x=value, bool flags take no value. */
function readArgv(argv: string[]): Map<string, Raw> {
  const out = new Map<string, Raw>();
  const add = (f: FlagDef, value: string): void => {
    const prev = out.get(f.name);
    const values = prev ? [...(prev.value as string[]), value] : [value];
    out.set(f.name, { source: 'flag', where: 'the command line', value: values });
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      if (i + 1 < argv.length)
        throw new ConfigError(`unexpected argument "${argv[i + 1]}": sc run takes only flags`);
      break;
    }
    if (arg.startsWith('--')) {
      const eq = arg.indexOf('=');
      const name = arg.slice(2, eq < 0 ? undefined : eq);
      const f = FLAG_BY_NAME.get(name);
      if (!f) throw new ConfigError(`unknown flag --${name}${suggestName(name, NAMES)}`);
      if (eq >= 0) add(f, arg.slice(eq + 1));
      else if (f.type === 'bool') add(f, 'true');
      else if (i + 1 < argv.length) add(f, argv[++i]!);
      else throw new ConfigError(`flag --${name} needs a value`);
      continue;
    }
    if (arg.startsWith('-') && arg.length > 1) {
      for (let j = 1; j < arg.length; j++) {
        const f = FLAG_BY_SHORT.get(arg[j]!);
        if (!f) throw new ConfigError(`unknown shorthand flag -${arg[j]} in ${arg}`);
        let rest = arg.slice(j + 1);
        if (f.type === 'bool' && !rest.startsWith('=')) {
          add(f, 'true');
          continue;
        }
        if (rest.startsWith('=')) rest = rest.slice(1);
        else if (rest === '') {
          if (i + 1 >= argv.length) throw new ConfigError(`flag -${f.short} (--${f.name}) needs a value`);
          rest = argv[++i]!;
        }
        add(f, rest);
        break;
      }
      continue;
    }
    const hint = /^(true|false)$/i.test(arg) ? ': a boolean flag takes its value as --flag=false' : '';
    throw new ConfigError(`unexpected argument "${arg}": sc run takes only flags${hint}`);
  }
  return out;
}

function invalid(f: FlagDef, raw: Raw, shown: unknown, why: string): ConfigError {
  const text = f.secret ? '****' : typeof shown === 'string' ? shown : JSON.stringify(shown);
  return new ConfigError(`invalid value "${text}" for --${f.name} from ${raw.where}: ${why}`);
}

function splitList(text: string): string[] {
  const parts = text.split(',');
  const out: string[] = [];
  for (let i = 0; i < parts.length; i++) {
    let item = parts[i]!.trim();
    // `data:base64,<text>` carries its own comma: keep it in one piece.
    if (/^data:[^,]*$/.test(item) && i + 1 < parts.length) item += ',' + parts[++i]!.trim();
    if (item !== '') out.push(item);
  }
  return out;
}

function scalarText(f: FlagDef, raw: Raw, v: unknown): string {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  throw invalid(f, raw, v, `expected a single ${f.type} value`);
}

/** Converts one source's raw value to the option's type (no range or syntax checks yet). */
function convert(f: FlagDef, raw: Raw): FlagValue {
  // Flags may repeat: scalars keep the last, lists and maps collect every occurrence.
  const occurrences: unknown[] = raw.source === 'flag' ? (raw.value as string[]) : [raw.value];
  const last = occurrences[occurrences.length - 1];
  switch (f.type) {
    case 'string':
      return scalarText(f, raw, last);
    case 'bool': {
      if (typeof last === 'boolean') return last;
      const t = scalarText(f, raw, last).toLowerCase();
      if (['true', '1', 't', 'yes'].includes(t)) return true;
      if (['false', '0', 'f', 'no'].includes(t)) return false;
      throw invalid(f, raw, last, 'expected true or false');
    }
    case 'int': {
      const t = scalarText(f, raw, last).trim();
      if (!/^[+-]?\d+$/.test(t)) throw invalid(f, raw, last, 'expected a whole number');
      // Past 2^53 a number is no longer exact (and no setting means that much): refuse it rather than round it.
      if (!Number.isSafeInteger(Number(t))) throw invalid(f, raw, last, 'number too large');
      return Number(t);
    }
    case 'duration': {
      const t = scalarText(f, raw, last);
      const ms = typeof last === 'number' && last !== 0 ? null : parseDuration(t);
      if (ms === null) throw invalid(f, raw, last, 'expected a duration like 500ms, 5s or 1m30s');
      return ms;
    }
    case 'list': {
      const items: string[] = [];
      for (const o of occurrences) {
        if (Array.isArray(o)) for (const e of o) items.push(scalarText(f, raw, e).trim());
        else items.push(...splitList(scalarText(f, raw, o)));
      }
      return items.filter((s) => s !== '');
    }
    case 'map': {
      const map: Record<string, string> = {};
      for (const o of occurrences) {
        if (o !== null && typeof o === 'object' && !Array.isArray(o)) {
          for (const [k, v] of Object.entries(o)) map[k] = scalarText(f, raw, v);
          continue;
        }
        const pairs = Array.isArray(o)
          ? o.map((e) => scalarText(f, raw, e))
          : splitList(scalarText(f, raw, o));
        for (const kv of pairs) {
          const i = kv.indexOf('=');
          if (i < 1) throw invalid(f, raw, kv, 'expected key=value');
          map[kv.slice(0, i).trim()] = kv.slice(i + 1).trim();
        }
      }
      return map;
    }
  }
}

function check(f: FlagDef, raw: Raw, value: FlagValue, cwd: string): void {
  if ((f.type === 'int' || f.type === 'duration') && typeof value === 'number') {
    const min = f.min ?? 0;
    if (value < min) {
      const bound = f.type === 'duration' ? formatDuration(min) : String(min);
      throw invalid(
        f,
        raw,
        raw.source === 'flag' ? (raw.value as string[]).at(-1) : raw.value,
        `must be at least ${bound}`,
      );
    }
  }
  const items = Array.isArray(value) ? value : typeof value === 'string' ? [value] : [];
  for (const item of items) {
    if (f.values && !f.values.includes(item)) {
      const allowed = f.values.filter((v) => v !== '').join(', ');
      throw invalid(f, raw, item, `allowed values: ${allowed}`);
    }
    if (f.check && item !== '') {
      const why = f.check(item, cwd);
      if (why) throw invalid(f, raw, item, why);
    }
  }
}

function sameValue(a: FlagValue, b: FlagValue): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

function describeSource(src: OptionSource, f: FlagDef, configFile: string): string {
  if (src === 'flag') return 'the command line';
  if (src === 'env') return `env ${envName(f.name)}`;
  return `config file ${configFile}`;
}

/** Parses `sc run` arguments (without "run"), env and the config file they name. Throws ConfigError. */
export function parseRunOptions(argv: string[], env: NodeJS.ProcessEnv, cwd: string): ParsedRunOptions {
  const fromArgv = readArgv(argv);
  const fromEnv = new Map<string, Raw>();
  for (const f of RUN_FLAGS) {
    const v = env[envName(f.name)];
    // Like viper, an empty variable counts as unset (CI templates often export empty values).
    if (v !== undefined && v !== '')
      fromEnv.set(f.name, { source: 'env', where: `env ${envName(f.name)}`, value: v });
  }

  const fromConfig = new Map<string, Raw>();
  const cfgRaw = fromArgv.get('config-file') ?? fromEnv.get('config-file');
  let configPath = '';
  if (cfgRaw) {
    const given = cfgRaw.source === 'flag' ? (cfgRaw.value as string[]).at(-1)! : (cfgRaw.value as string);
    configPath = resolve(cwd, given);
    const data = readConfigFile(
      configPath,
      cfgRaw.where === 'the command line' ? '--config-file' : cfgRaw.where,
    );
    for (const [key, value] of Object.entries(data)) {
      const f = FLAG_BY_NAME.get(key);
      if (!f)
        throw new ConfigError(`unknown key "${key}" in config file ${configPath}${suggestName(key, NAMES)}`);
      if (key === 'config-file')
        throw new ConfigError(`config file ${configPath}: "config-file" cannot be set inside a config file`);
      if (value === null || value === undefined) continue;
      fromConfig.set(key, { source: 'config', where: `config file ${configPath} (key ${key})`, value });
    }
  }

  const options = defaultRunOptions() as unknown as Record<string, FlagValue>;
  const sources: Record<string, OptionSource> = {};
  for (const f of RUN_FLAGS) {
    const raw = fromArgv.get(f.name) ?? fromEnv.get(f.name) ?? fromConfig.get(f.name);
    sources[f.name] = raw?.source ?? 'default';
    if (!raw) continue;
    const value = convert(f, raw);
    check(f, raw, value, cwd);
    if (f.name === 'cacert-file')
      options[propertyName(f.name)] = (value as string[]).map((p) =>
        p.startsWith('data:') ? p : resolve(cwd, p),
      );
    else options[propertyName(f.name)] = value;
  }
  if (configPath) options['configFile'] = configPath;

  const userSet = (name: string): boolean => {
    const f = FLAG_BY_NAME.get(name)!;
    return sources[name] !== 'default' && !sameValue(options[propertyName(name)]!, f.default);
  };
  for (const [a, b] of EXCLUSIVE_PAIRS) {
    if (userSet(a) && userSet(b)) {
      const fa = FLAG_BY_NAME.get(a)!;
      const fb = FLAG_BY_NAME.get(b)!;
      throw new ConfigError(
        `--${a} (from ${describeSource(sources[a]!, fa, configPath)}) and --${b} ` +
          `(from ${describeSource(sources[b]!, fb, configPath)}) cannot be used together`,
      );
    }
  }
  for (const f of RUN_FLAGS) {
    if (f.unsupported && userSet(f.name))
      throw new ConfigError(
        `flag --${f.name}: not supported yet (set from ${describeSource(sources[f.name]!, f, configPath)})`,
      );
  }
  for (const f of RUN_FLAGS) {
    if (f.required && !options[propertyName(f.name)])
      throw new ConfigError(
        `missing required flag --${f.name}: set it on the command line, in env ${envName(f.name)} or in the config file`,
      );
  }
  if (!options['restUrl'])
    throw new ConfigError(
      'no server configured: set --rest-url or SAUCE_REST_URL to your sc-server REST URL',
    );
  return { options: options as unknown as RunOptions, sources };
}
