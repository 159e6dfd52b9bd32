/**
 * One parser for the command line, env vars and the config file of both programs (`sc run`, `sc-server start`),
 * SC5's precedence: flag > env > config file > default, decided per option (a list from one source replaces,
 * never merges with, the lists of lower sources). Every value is converted and checked the same way whatever its
 * source, and every error names the flag and where the bad value came from. A program is described by an
 * OptionSpec (its flag registry and env naming); parseRunOptions and parseServerOptions are thin wrappers.
 */
import { resolve } from 'node:path';
import { ConfigError, type OptionSource } from './config-error.js';
import { readConfigFile } from './config-file.js';
import { parseDuration, formatDuration } from './duration.js';
import { envName, propertyName, type FlagDef, type FlagValue } from './flag.js';
import type { RunOptions } from './run-options.js';
import { DOCTOR_FLAGS, DOCTOR_NO_ENV } from './doctor-flags.js';
import { EXCLUSIVE_PAIRS, RUN_FLAGS } from './run-flags.js';
import { SERVER_ENV_ALIASES, SERVER_FLAGS, serverEnvName, type ServerOptions } from './server-flags.js';
import { suggestName } from './suggest.js';

/** One program's options: its registry and how its env vars are named. */
export interface OptionSpec {
  /** "sc run", "sc-server start": used in errors. */
  command: string;
  flags: readonly FlagDef[];
  /** The env var of a flag; null: the flag has none. */
  env: (flag: string) => string | null;
  /** Older env names still read (after the primary one), per flag. */
  envAliases?: Readonly<Record<string, readonly string[]>>;
  exclusive?: readonly (readonly [string, string])[];
  /** Accept positional arguments (sub-commands and their arguments) among the flags. */
  positionals?: boolean;
  byName: ReadonlyMap<string, FlagDef>;
  byShort: ReadonlyMap<string, FlagDef>;
}

/** Builds an OptionSpec, indexing the flags by long and short name. */
export function optionSpec(spec: Omit<OptionSpec, 'byName' | 'byShort'>): OptionSpec {
  const byName = new Map(spec.flags.map((f) => [f.name, f]));
  const byShort = new Map(spec.flags.filter((f) => f.short).map((f) => [f.short!, f]));
  if (byName.size !== spec.flags.length) throw new Error(`${spec.command}: a flag is declared twice`);
  return { ...spec, byName, byShort };
}

export const RUN_SPEC: OptionSpec = optionSpec({
  command: 'sc run',
  flags: RUN_FLAGS,
  env: envName,
  exclusive: EXCLUSIVE_PAIRS,
});

/** `sc doctor`: sc run's options plus the doctor-only ones (doctor-flags.ts). */
export const DOCTOR_SPEC: OptionSpec = optionSpec({
  command: 'sc doctor',
  flags: DOCTOR_FLAGS,
  env: (flag) => (DOCTOR_NO_ENV.has(flag) ? null : envName(flag)),
  exclusive: EXCLUSIVE_PAIRS,
});

export const SERVER_SPEC: OptionSpec = optionSpec({
  command: 'sc-server start',
  flags: SERVER_FLAGS,
  env: serverEnvName,
  envAliases: SERVER_ENV_ALIASES,
});

export interface ParsedOptions {
  /** Keyed by the camelCase property of each long flag name. */
  values: Record<string, FlagValue>;
  /** Keyed by long flag name. */
  sources: Record<string, OptionSource>;
  /** Absolute path of the config file read, or ''. */
  configFile: string;
  /** Non-flag arguments, in order (only when the spec accepts them). */
  positionals: string[];
}

export interface ParsedRunOptions {
  options: RunOptions;
  /** Keyed by long flag name. */
  sources: Record<string, OptionSource>;
}

interface Raw {
  source: Exclude<OptionSource, 'default'>;
  /** Human wording of the source, used in errors: "the command line", "env SAUCE_X", "config file f (key x)". */
  where: string;
  /** The env var it came from, when source is env. */
  env?: string;
  value: unknown;
}

/** The option values when nothing is set. */
export function defaultValues(flags: readonly FlagDef[]): Record<string, FlagValue> {
  const o: Record<string, FlagValue> = {};
  for (const f of flags) o[propertyName(f.name)] = clone(f.default);
  return o;
}

/** The `sc run` option values when nothing is set (tunnel-connections depends on the CPU count). */
export function defaultRunOptions(): RunOptions {
  return defaultValues(RUN_FLAGS) as unknown as RunOptions;
}

function clone(v: FlagValue): FlagValue {
  if (Array.isArray(v)) return [...v];
  if (typeof v === 'object') return { ...v };
  return v;
}

/** pflag-style argv: --name value, --name=value, -x value, -xvalue, -x=value, bool flags take no value. */
function readArgv(spec: OptionSpec, argv: string[]): { out: Map<string, Raw>; positionals: string[] } {
  const out = new Map<string, Raw>();
  const positionals: string[] = [];
  const names = spec.flags.map((f) => f.name);
  const add = (f: FlagDef, value: string): void => {
    const prev = out.get(f.name);
    const values = prev ? [...(prev.value as string[]), value] : [value];
    out.set(f.name, { source: 'flag', where: 'the command line', value: values });
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      if (spec.positionals) {
        positionals.push(...argv.slice(i + 1));
        break;
      }
      if (i + 1 < argv.length)
        throw new ConfigError(`unexpected argument "${argv[i + 1]}": ${spec.command} takes only flags`);
      break;
    }
    if (arg.startsWith('--')) {
      const eq = arg.indexOf('=');
      const name = arg.slice(2, eq < 0 ? undefined : eq);
      const f = spec.byName.get(name);
      if (!f) throw new ConfigError(`unknown flag --${name}${suggestName(name, names)}`);
      if (eq >= 0) add(f, arg.slice(eq + 1));
      else if (f.type === 'bool') add(f, 'true');
      else if (i + 1 < argv.length) add(f, argv[++i]!);
      else throw new ConfigError(`flag --${name} needs a value`);
      continue;
    }
    if (arg.startsWith('-') && arg.length > 1) {
      for (let j = 1; j < arg.length; j++) {
        const f = spec.byShort.get(arg[j]!);
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
    if (spec.positionals) {
      positionals.push(arg);
      continue;
    }
    const hint = /^(true|false)$/i.test(arg) ? ': a boolean flag takes its value as --flag=false' : '';
    throw new ConfigError(`unexpected argument "${arg}": ${spec.command} takes only flags${hint}`);
  }
  return { out, positionals };
}

/** The value as shown in an error: a secret is masked (only its secret part when the flag has a mask). */
function shownValue(f: FlagDef, shown: unknown): string {
  const text = typeof shown === 'string' ? shown : JSON.stringify(shown);
  if (!f.secret) return text;
  if (f.secret === true || typeof shown !== 'string') return '****';
  return f.secret(shown);
}

function invalid(f: FlagDef, raw: Raw, shown: unknown, why: string): ConfigError {
  return new ConfigError(`invalid value "${shownValue(f, shown)}" for --${f.name} from ${raw.where}: ${why}`);
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
    const bound = (n: number): string => (f.type === 'duration' ? formatDuration(n) : String(n));
    const given = raw.source === 'flag' ? (raw.value as string[]).at(-1) : raw.value;
    if (value < min) throw invalid(f, raw, given, `must be at least ${bound(min)}`);
    if (f.max !== undefined && value > f.max) throw invalid(f, raw, given, `must be at most ${bound(f.max)}`);
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

function describeSource(src: OptionSource, raw: Raw | undefined, configFile: string): string {
  if (src === 'flag') return 'the command line';
  if (src === 'env') return `env ${raw?.env ?? ''}`;
  return `config file ${configFile}`;
}

/** Parses one program's flags (argv without the command), env and the config file they name. Throws ConfigError. */
export function parseOptions(
  spec: OptionSpec,
  argv: string[],
  env: NodeJS.ProcessEnv,
  cwd: string,
): ParsedOptions {
  const names = spec.flags.map((f) => f.name);
  const { out: fromArgv, positionals } = readArgv(spec, argv);
  const fromEnv = new Map<string, Raw>();
  for (const f of spec.flags) {
    for (const name of [spec.env(f.name), ...(spec.envAliases?.[f.name] ?? [])]) {
      if (name === null) continue;
      const v = env[name];
      // Like viper, an empty variable counts as unset (CI templates often export empty values).
      if (v === undefined || v === '') continue;
      fromEnv.set(f.name, { source: 'env', where: `env ${name}`, env: name, value: v });
      break;
    }
  }

  const fromConfig = new Map<string, Raw>();
  const cfgRaw = fromArgv.get('config-file') ?? fromEnv.get('config-file');
  let configPath = '';
  if (cfgRaw && spec.byName.has('config-file')) {
    const given = cfgRaw.source === 'flag' ? (cfgRaw.value as string[]).at(-1)! : (cfgRaw.value as string);
    configPath = resolve(cwd, given);
    const data = readConfigFile(
      configPath,
      cfgRaw.where === 'the command line' ? '--config-file' : cfgRaw.where,
    );
    for (const [key, value] of Object.entries(data)) {
      const f = spec.byName.get(key);
      if (!f)
        throw new ConfigError(`unknown key "${key}" in config file ${configPath}${suggestName(key, names)}`);
      if (key === 'config-file')
        throw new ConfigError(`config file ${configPath}: "config-file" cannot be set inside a config file`);
      if (value === null || value === undefined) continue;
      fromConfig.set(key, { source: 'config', where: `config file ${configPath} (key ${key})`, value });
    }
  }

  const values = defaultValues(spec.flags);
  const sources: Record<string, OptionSource> = {};
  const raws = new Map<string, Raw>();
  for (const f of spec.flags) {
    const raw = fromArgv.get(f.name) ?? fromEnv.get(f.name) ?? fromConfig.get(f.name);
    sources[f.name] = raw?.source ?? 'default';
    if (!raw) continue;
    raws.set(f.name, raw);
    const value = convert(f, raw);
    check(f, raw, value, cwd);
    values[propertyName(f.name)] = value;
  }
  if (configPath) values['configFile'] = configPath;

  const from = (name: string): string => describeSource(sources[name]!, raws.get(name), configPath);
  const userSet = (name: string): boolean => {
    const f = spec.byName.get(name)!;
    return sources[name] !== 'default' && !sameValue(values[propertyName(name)]!, f.default);
  };
  for (const [a, b] of spec.exclusive ?? []) {
    if (userSet(a) && userSet(b)) {
      throw new ConfigError(`--${a} (from ${from(a)}) and --${b} (from ${from(b)}) cannot be used together`);
    }
  }
  for (const f of spec.flags) {
    if (f.unsupported && userSet(f.name))
      throw new ConfigError(`flag --${f.name}: not supported yet (set from ${from(f.name)})`);
  }
  for (const f of spec.flags) {
    if (f.required && !values[propertyName(f.name)])
      throw new ConfigError(
        `missing required flag --${f.name}: set it on the command line, in env ${spec.env(f.name) ?? '(none)'} or in the config file`,
      );
  }
  return { values, sources, configFile: configPath, positionals };
}

/** sc run's checks after parsing (also sc doctor's): --cacert-file paths made absolute, a server named. */
function finishRunValues(
  values: Record<string, FlagValue>,
  sources: Record<string, OptionSource>,
  cwd: string,
): void {
  if (sources['cacert-file'] !== 'default')
    values['cacertFile'] = (values['cacertFile'] as string[]).map((p) =>
      p.startsWith('data:') ? p : resolve(cwd, p),
    );
  if (!values['restUrl'])
    throw new ConfigError(
      'no server configured: set --rest-url or SAUCE_REST_URL to your sc-server REST URL',
    );
}

/** Parses `sc run` arguments (without "run"), env and the config file they name. Throws ConfigError. */
export function parseRunOptions(argv: string[], env: NodeJS.ProcessEnv, cwd: string): ParsedRunOptions {
  const { values, sources } = parseOptions(RUN_SPEC, argv, env, cwd);
  finishRunValues(values, sources, cwd);
  return { options: values as unknown as RunOptions, sources };
}

/** `sc doctor`'s options: every `sc run` option plus --check-url and --output. */
export interface DoctorOptions extends RunOptions {
  checkUrl: string[];
  output: 'text' | 'json';
}

/** Parses `sc doctor` arguments exactly as `sc run`'s (same registry and rules) plus the doctor-only flags. */
export function parseDoctorOptions(
  argv: string[],
  env: NodeJS.ProcessEnv,
  cwd: string,
): { options: DoctorOptions; sources: Record<string, OptionSource> } {
  const { values, sources } = parseOptions(DOCTOR_SPEC, argv, env, cwd);
  finishRunValues(values, sources, cwd);
  return { options: values as unknown as DoctorOptions, sources };
}

export interface ParsedServerOptions {
  options: ServerOptions;
  sources: Record<string, OptionSource>;
}

/** Parses `sc-server start` arguments (without "start"), env and the config file. Throws ConfigError. */
export function parseServerOptions(argv: string[], env: NodeJS.ProcessEnv, cwd: string): ParsedServerOptions {
  const { values, sources } = parseOptions(SERVER_SPEC, argv, env, cwd);
  const o = values as unknown as ServerOptions;
  if (!o.dataDir) throw new ConfigError('--data-dir is empty: name a directory');
  if (Boolean(o.tlsCert) !== Boolean(o.tlsKey))
    throw new ConfigError(
      '--tls-cert and --tls-key go together: set both (PEM certificate and its private key)',
    );
  for (const k of ['dataDir', 'tlsCert', 'tlsKey', 'logFile'] as const) if (o[k]) o[k] = resolve(cwd, o[k]);
  return { options: o, sources };
}
