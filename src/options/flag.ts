/**
 * How one option of `sc run` or `sc-server start` is declared. Everything else (argv, env and config-file
 * parsing, help, completion, the config-file template, docs/cli.md, docs/config.md, docs/server-cli.md, /configz,
 * the startup logs) is derived from these declarations, so an option is defined in exactly one place
 * (src/options/run-flags.ts, src/options/server-flags.ts, and src/options/shared-flags.ts for both).
 */
import type { RunOptions } from './run-options.js';

export type FlagType = 'string' | 'bool' | 'int' | 'duration' | 'list' | 'map';

export type FlagValue = string | boolean | number | string[] | Record<string, string>;

export const GROUPS = [
  'Sauce Labs',
  'Tunnel traffic',
  'Proxy',
  'DNS',
  'HTTP client',
  'API server',
  'Logging',
  'Kerberos',
  'Hidden',
] as const;
/** Groups of `sc-server start --help`, in order. */
export const SERVER_GROUPS = [
  'Server',
  'Listeners',
  'TLS',
  'Tunnels',
  'Accounts',
  'WebDriver gateway',
  'Cluster',
  'Logging',
] as const;
/** Groups of the flags only `sc doctor` has (it also takes every `sc run` flag). */
export const DOCTOR_GROUPS = ['Doctor'] as const;
export type FlagGroup =
  (typeof GROUPS)[number] | (typeof SERVER_GROUPS)[number] | (typeof DOCTOR_GROUPS)[number];

export interface FlagDef {
  /** Long name, also the config-file key; the RunOptions property is its camelCase. */
  name: string;
  short?: string;
  type: FlagType;
  default: FlagValue;
  /** How the default is shown in help and docs when it is computed (e.g. from the CPU count). */
  defaultText?: string;
  group: FlagGroup;
  description: string;
  /** Placeholder for the value in help ("host:port", "duration"...). */
  valueName?: string;
  /** Allowed values, checked by the parser and offered by shell completion. */
  values?: readonly string[];
  required?: boolean;
  /** Listed in docs but not in `sc help` nor completion. */
  hidden?: boolean;
  /** Parsed and validated, then refused with "not supported yet" when the user sets it. */
  unsupported?: boolean;
  /** Masks secrets for /configz and logs; `true` masks the whole value. */
  secret?: true | ((value: string) => string);
  /** Extra checks on one value (a list checks each element): an error text, or undefined when fine. */
  check?: (value: string, cwd: string) => string | undefined;
  /** Lower bound for int and duration options. */
  min?: number;
  /** Upper bound for int and duration options. */
  max?: number;
  /** sc-server: the server.json key that reports this setting's effective value (docs/server.md). */
  serverJson?: string;
}

export type OptionKey = keyof RunOptions;

/** `tunnel-max-concurrent-streams` -> `tunnelMaxConcurrentStreams`. */
export function propertyName(flag: string): OptionKey {
  return flag.replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase()) as OptionKey;
}

/** `dns-timeout` -> `SAUCE_DNS_TIMEOUT`. */
export function envName(flag: string): string {
  return 'SAUCE_' + flag.toUpperCase().replace(/-/g, '_');
}
