/** A configuration problem: `sc` prints the message (which names the option and where it came from), exit 2. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** Where an option's value came from, in precedence order (flag wins). */
export type OptionSource = 'flag' | 'env' | 'config' | 'default';
