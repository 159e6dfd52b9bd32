/** `sc-server start --help`, derived from the server's flag registry (like `sc run --help` from sc's). */
import { defaultLabel } from './docs.js';
import { SERVER_GROUPS, type FlagDef } from './flag.js';
import { SERVER_ENV_ALIASES, SERVER_FLAGS, serverEnvName } from './server-flags.js';

function flagLine(f: FlagDef): string {
  const value = f.valueName ?? (f.type === 'bool' ? '' : f.type);
  const names = `${f.short ? `-${f.short}, ` : '    '}--${f.name} ${value}`.trimEnd();
  const def = defaultLabel(f);
  const parts = [f.description];
  if (f.values) parts.push(`(${f.values.filter((v) => v !== '').join('|')})`);
  if (def && f.type !== 'bool') parts.push(`(default ${def})`);
  parts.push(`[${[serverEnvName(f.name), ...(SERVER_ENV_ALIASES[f.name] ?? [])].join(', ')}]`);
  const pad = names.length >= 40 ? '\n' + ' '.repeat(42) : ' '.repeat(42 - 2 - names.length);
  return `  ${names}${pad}${parts.join(' ')}`;
}

export function serverStartHelp(): string {
  const out = [
    'Run the REST API, the tunnel edge and the proxy entry until SIGINT or SIGTERM (SIGHUP reloads --tls-cert',
    'and --tls-key and reopens --log-file).',
    '',
    'Usage:',
    '  sc-server start [flags]',
  ];
  for (const group of SERVER_GROUPS) {
    const flags = SERVER_FLAGS.filter((f) => f.group === group && !f.hidden);
    if (flags.length === 0) continue;
    out.push('', `${group}:`, ...flags.map(flagLine));
  }
  out.push(
    '',
    'Every flag is also an env var (SLUICE_SERVER_ + NAME; older SC_* names in brackets still work) and a',
    'config-file key. First start creates an admin account (a generated key is printed once). Port 0 picks a',
    'free port; DIR/server.json records the real addresses. See docs/server.md and docs/server-cli.md.',
  );
  return out.join('\n') + '\n';
}
