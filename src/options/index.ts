/** Public surface of the options layer. */
export { ConfigError, type OptionSource } from './config-error.js';
export { parseDuration, formatDuration } from './duration.js';
export {
  envName,
  propertyName,
  DOCTOR_GROUPS,
  GROUPS,
  SERVER_GROUPS,
  type FlagDef,
  type FlagGroup,
  type FlagType,
} from './flag.js';
export {
  defaultRunOptions,
  DOCTOR_SPEC,
  optionSpec,
  parseDoctorOptions,
  parseOptions,
  parseRunOptions,
  parseServerOptions,
  RUN_SPEC,
  SERVER_SPEC,
  type DoctorOptions,
  type OptionSpec,
  type ParsedRunOptions,
  type ParsedServerOptions,
} from './parse.js';
export { changedOptions, formatValue, redactedConfig, secretValues } from './redact.js';
export { EXCLUSIVE_PAIRS, REGIONS, RUN_FLAGS } from './run-flags.js';
export { DOCTOR_FLAGS, DOCTOR_NO_ENV, DOCTOR_ONLY_FLAGS } from './doctor-flags.js';
export {
  SERVER_ENV_ALIASES,
  SERVER_FLAGS,
  SERVER_JSON_EXTRA,
  serverEnvName,
  type ServerOptions,
} from './server-flags.js';
export { SHARED_FLAG_NAMES } from './shared-flags.js';
export type { ProxyLocalhost, RunOptions } from './run-options.js';
export { renderConfigTemplate } from './config-template.js';
export {
  defaultLabel,
  renderCliMarkdown,
  renderConfigMarkdown,
  renderServerCliMarkdown,
  renderServerOptionsTable,
  SERVER_TABLE_BEGIN,
  SERVER_TABLE_END,
} from './docs.js';
export { serverStartHelp } from './help.js';
export { envHints } from './suggest.js';
