/**
 * `sc run config-file`: a commented YAML of every option with its default, ready to copy to a config file
 * and uncomment. Deterministic (computed defaults are described, not printed) so docs/config.md can embed it.
 */
import { envName, GROUPS, type FlagDef } from './flag.js';
import { formatValue } from './redact.js';
import { RUN_FLAGS } from './run-flags.js';

function yamlValue(f: FlagDef): string {
  if (f.defaultText && f.type !== 'string' && f.type !== 'list') return '';
  const v = f.default;
  if (f.type === 'list') {
    const list = v as string[];
    return list.length === 0 ? ' []' : ' [' + list.map((s) => JSON.stringify(s)).join(', ') + ']';
  }
  if (f.type === 'map') return ' {}';
  if (f.type === 'string') return ' ' + JSON.stringify(v);
  return ' ' + formatValue(f, v);
}

function comment(text: string): string[] {
  const words = text.split(' ');
  const lines: string[] = [];
  let line = '#';
  for (const w of words) {
    if (line.length + w.length + 1 > 110) {
      lines.push(line);
      line = '#';
    }
    line += ' ' + w;
  }
  lines.push(line);
  return lines;
}

export function renderConfigTemplate(): string {
  const out: string[] = [
    '# Configuration file of `sc run` (YAML; a .json file is read as JSON).',
    '# Keys are the long flag names. Precedence: command line > SAUCE_* env > this file > default.',
    '# A list here replaces the default list. Durations use 500ms, 5s, 1m30s. Uncomment what you set.',
  ];
  for (const group of GROUPS) {
    const flags = RUN_FLAGS.filter((f) => f.group === group);
    if (flags.length === 0) continue;
    out.push('', `# --- ${group} ---`);
    for (const f of flags) {
      if (f.name === 'config-file') continue;
      const notes = [`Env ${envName(f.name)}.`];
      if (f.required) notes.push('Required.');
      if (f.values) notes.push(`Values: ${f.values.filter((v) => v !== '').join(', ')}.`);
      if (f.defaultText) notes.push(`Default: ${f.defaultText}.`);
      if (f.unsupported) notes.push('Not supported yet: sc refuses a value other than the default.');
      out.push('', ...comment(`${f.description} ${notes.join(' ')}`), `#${f.name}:${yamlValue(f)}`);
    }
  }
  return out.join('\n') + '\n';
}
