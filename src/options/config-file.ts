/**
 * Reads the `-c/--config-file`: YAML by default, JSON for `.json` (YAML 1.2 reads JSON too, but JSON files
 * get JSON's stricter errors). Keys are long flag names; the parser checks them.
 */
import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { ConfigError } from './config-error.js';

export function readConfigFile(path: string, origin: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const why = e.code === 'ENOENT' ? 'file not found' : e.message;
    throw new ConfigError(`cannot read config file ${path} (${origin}): ${why}`);
  }
  const ext = extname(path).toLowerCase();
  if (ext === '.toml')
    throw new ConfigError(`config file ${path}: TOML is not supported, write it as YAML or JSON`);
  let data: unknown;
  try {
    data = ext === '.json' ? JSON.parse(text) : parseYaml(text);
  } catch (err) {
    throw new ConfigError(
      `config file ${path} is not valid ${ext === '.json' ? 'JSON' : 'YAML'}: ${(err as Error).message}`,
    );
  }
  if (data === null || data === undefined) return {};
  if (typeof data !== 'object' || Array.isArray(data))
    throw new ConfigError(`config file ${path}: expected a mapping of option names to values`);
  return data as Record<string, unknown>;
}
