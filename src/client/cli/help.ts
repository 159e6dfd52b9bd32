/** `sc help` text, grouped like SC5's, derived from the flag registry (hidden flags stay out). */
import { envName, GROUPS, RUN_FLAGS } from '../../options/index.js';
import { flagHelpLine, flagSections } from '../../options/help.js';

export const ROOT_HELP = `sc opens a secure tunnel from a private network to your sc-server, so browsers in a test
cloud can reach applications that only this machine can reach. It accepts Sauce Connect Proxy 5's command line.

Usage:
  sc [command]

Commands:
  run         Start the tunnel ("sc run config-file" prints a config template)
  doctor      Check DNS, proxies, the server, TLS, credentials and URLs with the flags of run
  ready       Exit 0 when the local API of a running sc says ready (for HEALTHCHECKs)
  legacy      Start the tunnel from a Sauce Connect 4 command line ("sc legacy --help"; docs/legacy.md)

Other Commands:
  completion  Print a shell completion script (bash, zsh, fish, powershell)
  help        Help about any command
  version     Print the version (--format text|json)

Use "sc help run" or "sc run --help" for the flags of run, "sc help doctor" for doctor.
`;

export function runHelp(): string {
  const out = [
    'Start the tunnel and keep it up until SIGINT or SIGTERM.',
    '',
    'Usage:',
    '  sc run [flags]',
    '  sc run config-file',
  ];
  out.push(...flagSections(RUN_FLAGS, GROUPS, (f) => flagHelpLine(f, [envName(f.name)], 46)));
  out.push(
    '',
    'Required: --username, --access-key, --region, --tunnel-name and --rest-url (your sc-server REST URL).',
    'Every flag is also an env var (SAUCE_ + NAME) and a config-file key. See docs/cli.md.',
  );
  return out.join('\n') + '\n';
}
