/** `sc completion <shell>`: completion scripts generated from the flag registry. */
import { DOCTOR_FLAGS, RUN_FLAGS, type FlagDef } from '../../options/index.js';

export const SHELLS = ['bash', 'zsh', 'fish', 'powershell'] as const;
export type Shell = (typeof SHELLS)[number];

const COMMANDS = ['run', 'doctor', 'ready', 'version', 'completion', 'help'];
const visible = RUN_FLAGS.filter((f) => !f.hidden);
/** `sc doctor`: sc run's flags plus its own. */
const doctorVisible = DOCTOR_FLAGS.filter((f) => !f.hidden);

const bashFlags = (flags: readonly FlagDef[]): string =>
  flags.flatMap((f) => [`--${f.name}`, ...(f.short ? [`-${f.short}`] : [])]).join(' ');
const bashValueCases = (flags: readonly FlagDef[]): string =>
  flags
    .filter((f) => f.values)
    .map(
      (f) =>
        `    --${f.name}) COMPREPLY=($(compgen -W "${f.values!.filter(Boolean).join(' ')}" -- "$cur")); return ;;`,
    )
    .join('\n');

function bash(): string {
  const flags = bashFlags(visible);
  const cases = bashValueCases(visible);
  return `# bash completion for sc
_sc() {
  local cur prev cmd
  cur="\${COMP_WORDS[COMP_CWORD]}"
  prev="\${COMP_WORDS[COMP_CWORD-1]}"
  cmd="\${COMP_WORDS[1]}"
  if [ "$COMP_CWORD" -eq 1 ]; then
    COMPREPLY=($(compgen -W "${COMMANDS.join(' ')}" -- "$cur")); return
  fi
  case "$cmd" in
  run)
    case "$prev" in
${cases}
    esac
    COMPREPLY=($(compgen -W "${flags} config-file" -- "$cur")) ;;
  doctor)
    case "$prev" in
${bashValueCases(doctorVisible)}
    esac
    COMPREPLY=($(compgen -W "${bashFlags(doctorVisible)}" -- "$cur")) ;;
  completion) COMPREPLY=($(compgen -W "bash zsh fish powershell" -- "$cur")) ;;
  version) COMPREPLY=($(compgen -W "--format" -- "$cur")) ;;
  help) COMPREPLY=($(compgen -W "run doctor version completion" -- "$cur")) ;;
  esac
}
complete -o default -F _sc sc
`;
}

function zshQuote(s: string): string {
  return s.replace(/'/g, "'\\''").replace(/[[\]]/g, '\\$&');
}

function zshSpecs(flags: readonly FlagDef[]): string[] {
  return flags.map((f) => {
    const desc = zshQuote(f.description);
    const arg =
      f.type === 'bool' ? '' : f.values ? `:value:(${f.values.filter(Boolean).join(' ')})` : ':value:';
    // A repeatable option (*) must not exclude itself; a single one excludes its other spelling.
    const repeatable = f.type === 'list' || f.type === 'map';
    const lead = repeatable ? '*' : f.short ? `(-${f.short} --${f.name})` : '';
    return f.short
      ? `    '${lead}'{-${f.short},--${f.name}}'[${desc}]${arg}'`
      : `    '${lead}--${f.name}[${desc}]${arg}'`;
  });
}

function zsh(): string {
  const specs = zshSpecs(visible);
  return `#compdef sc
# zsh completion for sc
_sc() {
  local -a commands
  commands=('run:Start the tunnel' 'doctor:Check that run can work from here' 'version:Print the version' 'completion:Print a completion script' 'help:Help')
  if (( CURRENT == 2 )); then
    _describe 'command' commands
    return
  fi
  case $words[2] in
  run)
    _arguments -s \\
${specs.join(' \\\n')}
    ;;
  doctor)
    _arguments -s \\
${zshSpecs(doctorVisible).join(' \\\n')}
    ;;
  completion) _values 'shell' bash zsh fish powershell ;;
  version) _arguments '--format[output format]:format:(text json)' ;;
  esac
}
compdef _sc sc
`;
}

function fish(): string {
  const lines = [
    '# fish completion for sc',
    `complete -c sc -f -n '__fish_use_subcommand' -a '${COMMANDS.join(' ')}'`,
    "complete -c sc -f -n '__fish_seen_subcommand_from completion' -a 'bash zsh fish powershell'",
    "complete -c sc -f -n '__fish_seen_subcommand_from version' -l format -a 'text json' -r",
  ];
  const runNames = new Set(visible.map((f) => f.name));
  for (const f of doctorVisible) {
    // sc run's flags complete for run and doctor; the doctor-only ones for doctor.
    const commands = runNames.has(f.name) ? 'run doctor' : 'doctor';
    const parts = [`complete -c sc -n '__fish_seen_subcommand_from ${commands}' -l ${f.name}`];
    if (f.short) parts.push(`-s ${f.short}`);
    if (f.type !== 'bool') parts.push('-r');
    if (f.values) parts.push(`-a '${f.values.filter(Boolean).join(' ')}'`);
    parts.push(`-d '${f.description.replace(/'/g, "\\'")}'`);
    lines.push(parts.join(' '));
  }
  return lines.join('\n') + '\n';
}

function powershell(): string {
  const flags = visible.map((f) => `'--${f.name}'`).join(', ');
  return `# PowerShell completion for sc
Register-ArgumentCompleter -Native -CommandName 'sc', 'sc.exe' -ScriptBlock {
  param($wordToComplete, $commandAst, $cursorPosition)
  $words = $commandAst.CommandElements | ForEach-Object { $_.ToString() }
  $candidates = @()
  if ($words.Count -le 2 -and -not $wordToComplete.StartsWith('-')) {
    $candidates = @(${COMMANDS.map((c) => `'${c}'`).join(', ')})
  } elseif ($words[1] -eq 'run') {
    $candidates = @(${flags}, 'config-file')
  } elseif ($words[1] -eq 'doctor') {
    $candidates = @(${doctorVisible.map((f) => `'--${f.name}'`).join(', ')})
  } elseif ($words[1] -eq 'completion') {
    $candidates = @('bash', 'zsh', 'fish', 'powershell')
  }
  $candidates | Where-Object { $_ -like "$wordToComplete*" } | ForEach-Object {
    [System.Management.Automation.CompletionResult]::new($_, $_, 'ParameterValue', $_)
  }
}
`;
}

export function completionScript(shell: Shell): string {
  return { bash, zsh, fish, powershell }[shell]();
}
