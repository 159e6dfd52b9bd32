/** `sc-server start --help`, derived from the server's flag registry (like `sc run --help` from sc's). */
import { defaultLabel } from './docs.js';
import { SERVER_GROUPS, type FlagDef } from './flag.js';
import { SERVER_ENV_ALIASES, SERVER_FLAGS, serverEnvName } from './server-flags.js';

/**
 * One flag's help line, as `sc run --help` and `sc-server start --help` print it: names and value, then the
 * description, allowed values, default and env names, aligned at `column`.
 */
export function flagHelpLine(f: FlagDef, envNames: readonly string[], column: number): string {
  const value = f.valueName ?? (f.type === 'bool' ? '' : f.type);
  const names = `${f.short ? `-${f.short}, ` : '    '}--${f.name} ${value}`.trimEnd();
  const def = defaultLabel(f);
  const parts = [f.description];
  if (f.values) parts.push(`(${f.values.filter((v) => v !== '').join('|')})`);
  if (def && f.type !== 'bool') parts.push(`(default ${def})`);
  if (f.unsupported) parts.push('[not supported yet]');
  parts.push(`[${envNames.join(', ')}]`);
  const pad = names.length >= column - 2 ? '\n' + ' '.repeat(column) : ' '.repeat(column - 2 - names.length);
  return `  ${names}${pad}${parts.join(' ')}`;
}

/** The flags of a registry by group (hidden ones left out), each group a heading and its help lines. */
export function flagSections(
  flags: readonly FlagDef[],
  groups: readonly string[],
  line: (f: FlagDef) => string,
): string[] {
  const out: string[] = [];
  for (const group of groups) {
    const inGroup = flags.filter((f) => f.group === group && !f.hidden);
    if (inGroup.length > 0) out.push('', `${group}:`, ...inGroup.map(line));
  }
  return out;
}

export function serverStartHelp(): string {
  const out = [
    'Run the REST API, the tunnel edge and the proxy entry until SIGINT or SIGTERM (SIGHUP reloads --tls-cert',
    'and --tls-key and reopens --log-file).',
    '',
    'Usage:',
    '  sc-server start [flags]',
  ];
  out.push(
    ...flagSections(SERVER_FLAGS, SERVER_GROUPS, (f) =>
      flagHelpLine(f, [serverEnvName(f.name), ...(SERVER_ENV_ALIASES[f.name] ?? [])], 42),
    ),
  );
  out.push(
    '',
    'Every flag is also an env var (SLUICE_SERVER_ + NAME; older SC_* names in brackets still work) and a',
    'config-file key. First start creates an admin account (a generated key is printed once). Port 0 picks a',
    'free port; DIR/server.json records the real addresses. See docs/server.md and docs/server-cli.md.',
  );
  return out.join('\n') + '\n';
}
