/** `sc help` text, grouped like SC5's, derived from the flag registry (hidden flags stay out). */
import { defaultLabel, envName, GROUPS, RUN_FLAGS, type FlagDef } from '../../options/index.js';

export const ROOT_HELP = `sc opens a secure tunnel from a private network to your sc-server, so browsers in a test
cloud can reach applications that only this machine can reach. It accepts Sauce Connect Proxy 5's command line.

Usage:
  sc [command]

Commands:
  run         Start the tunnel ("sc run config-file" prints a config template)
  ready       Exit 0 when the local API of a running sc says ready (for HEALTHCHECKs)

Other Commands:
  completion  Print a shell completion script (bash, zsh, fish, powershell)
  help        Help about any command
  version     Print the version (--format text|json)

Use "sc help run" or "sc run --help" for the flags of run.
`;

function typeLabel(f: FlagDef): string {
  if (f.valueName) return f.valueName;
  return f.type === 'bool' ? '' : f.type;
}

function flagLine(f: FlagDef): string {
  const names = `${f.short ? `-${f.short}, ` : '    '}--${f.name} ${typeLabel(f)}`.trimEnd();
  const def = defaultLabel(f);
  const parts = [f.description];
  if (f.values) parts.push(`(${f.values.filter((v) => v !== '').join('|')})`);
  if (def && f.type !== 'bool') parts.push(`(default ${def})`);
  if (f.unsupported) parts.push('[not supported yet]');
  parts.push(`[${envName(f.name)}]`);
  const pad = names.length >= 44 ? '\n' + ' '.repeat(46) : ' '.repeat(46 - 2 - names.length);
  return `  ${names}${pad}${parts.join(' ')}`;
}

export function runHelp(): string {
  const out = [
    'Start the tunnel and keep it up until SIGINT or SIGTERM.',
    '',
    'Usage:',
    '  sc run [flags]',
    '  sc run config-file',
  ];
  for (const group of GROUPS) {
    const flags = RUN_FLAGS.filter((f) => f.group === group && !f.hidden);
    if (flags.length === 0) continue;
    out.push('', `${group}:`, ...flags.map(flagLine));
  }
  out.push(
    '',
    'Required: --username, --access-key, --region, --tunnel-name and --rest-url (your sc-server REST URL).',
    'Every flag is also an env var (SAUCE_ + NAME) and a config-file key. See docs/cli.md.',
  );
  return out.join('\n') + '\n';
}
