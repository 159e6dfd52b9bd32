/**
 * `sc doctor` takes every `sc run` option (the same registry, env vars and config file) plus the flags declared
 * here, which only doctor accepts: `sc run` refuses them as unknown (docs/doctor.md).
 */
import * as c from './checks.js';
import type { FlagDef } from './flag.js';
import { RUN_FLAGS } from './run-flags.js';

export const DOCTOR_ONLY_FLAGS: readonly FlagDef[] = [
  {
    name: 'check-url',
    type: 'list',
    default: [],
    valueName: 'url',
    group: 'Doctor',
    check: c.httpUrl,
    description:
      'Fetch this http(s) URL through the egress exactly as sc run would (domain rules, --proxy-localhost, ' +
      '--proxy or PAC, DNS, TLS) and report the rule that decided and the HTTP status; repeatable.',
  },
  {
    name: 'output',
    type: 'string',
    default: 'text',
    values: ['text', 'json'],
    group: 'Doctor',
    description: 'Print the results as text lines or as one JSON document.',
  },
];

/** Every flag `sc doctor` accepts: sc run's, then the doctor-only ones. */
export const DOCTOR_FLAGS: readonly FlagDef[] = [...RUN_FLAGS, ...DOCTOR_ONLY_FLAGS];

/** Doctor-only flags with no env var (a generic SAUCE_OUTPUT would be a trap). */
export const DOCTOR_NO_ENV: ReadonlySet<string> = new Set(['output']);
