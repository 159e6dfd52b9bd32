/**
 * Settings that `sc run` and `sc-server start` both have, declared once: name, type, default, allowed values and
 * description come from here, and each registry only places the flag in one of its groups (and may hide it).
 * test/unit/server-options.test.ts checks that the two registries agree on every name they share.
 */
import type { FlagDef, FlagGroup } from './flag.js';

type SharedDef = Omit<FlagDef, 'group'>;

const SHARED: readonly SharedDef[] = [
  {
    name: 'config-file',
    short: 'c',
    type: 'string',
    default: '',
    valueName: 'path',
    description: 'YAML (or JSON, by the .json extension) file whose keys are the long flag names.',
  },
  {
    name: 'log-file',
    type: 'string',
    default: '',
    defaultText: 'stdout',
    valueName: 'path',
    description: 'Write the log to this file instead of stdout; SIGHUP reopens it (for logrotate).',
  },
  {
    name: 'log-level',
    type: 'string',
    default: 'info',
    values: ['error', 'info', 'debug'],
    description: 'Least severe messages logged.',
  },
  {
    name: 'log-format',
    type: 'string',
    default: 'text',
    values: ['text', 'json'],
    description: 'Log line format.',
  },
  {
    name: 'tunnel-keepalive-interval',
    type: 'duration',
    default: 5000,
    min: 1,
    description: 'How often each side of a tunnel connection checks the other is still there (HTTP/2 PING).',
  },
  {
    name: 'tunnel-keepalive-timeout',
    type: 'duration',
    default: 15_000,
    min: 1,
    description:
      'A tunnel connection whose PING is not answered within this time is closed (and sc replaces it).',
  },
];

const BY_NAME = new Map(SHARED.map((f) => [f.name, f]));

/** The names both programs declare. */
export const SHARED_FLAG_NAMES: readonly string[] = SHARED.map((f) => f.name);

/** The one declaration of a shared setting, placed in `group` of a program's registry. */
export function sharedFlag(name: string, group: FlagGroup, hidden?: boolean): FlagDef {
  const f = BY_NAME.get(name);
  if (!f) throw new Error(`no shared flag --${name}`);
  return hidden ? { ...f, group, hidden } : { ...f, group };
}
