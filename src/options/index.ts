/** Public surface of the options layer. */
export { ConfigError, type OptionSource } from './config-error.js';
export { parseDuration, formatDuration } from './duration.js';
export { envName, propertyName, GROUPS, type FlagDef, type FlagGroup, type FlagType } from './flag.js';
export { defaultRunOptions, parseRunOptions, type ParsedRunOptions } from './parse.js';
export { changedOptions, formatValue, redactedConfig, secretValues } from './redact.js';
export { EXCLUSIVE_PAIRS, REGIONS, RUN_FLAGS } from './run-flags.js';
export type { ProxyLocalhost, RunOptions } from './run-options.js';
export { renderConfigTemplate } from './config-template.js';
export { defaultLabel, renderCliMarkdown, renderConfigMarkdown } from './docs.js';
export { envHints } from './suggest.js';
