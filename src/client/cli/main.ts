#!/usr/bin/env node
/**
 * `sc` entry point: dispatches the commands (run, ready, version, completion, help). Only this layer reads argv,
 * env and signals, and only it exits.
 */
import { ExitCode } from '../exit-codes.js';
import { completionScript, SHELLS, type Shell } from './completion.js';
import { doctorCommand, doctorHelp } from './doctor-command.js';
import { ROOT_HELP, runHelp } from './help.js';
import { legacyCommand } from './legacy-command.js';
import { READY_HELP, readyCommand } from './ready-command.js';
import { runCommand } from './run-command.js';
import { versionInfo, versionText } from './version-info.js';
import { RUN_FLAGS } from '../../options/run-flags.js';
import { maskedArgv } from '../../options/redact.js';

function usageError(message: string): never {
  process.stderr.write(`sc: ${message}\nRun "sc help" for usage.\n`);
  process.exit(ExitCode.CONFIG);
}

function versionCommand(args: string[]): void {
  let format = 'text';
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--format' || a === '-f') format = args[++i] ?? '';
    else if (a.startsWith('--format=')) format = a.slice('--format='.length);
    else if (a === '-h' || a === '--help') {
      process.stdout.write('Usage:\n  sc version [--format text|json]\n');
      return;
    } else usageError(`unexpected argument "${a}" for version`);
  }
  if (format === 'json') process.stdout.write(JSON.stringify(versionInfo(), null, 2) + '\n');
  else if (format === 'text') process.stdout.write(versionText());
  else usageError(`invalid value "${format}" for --format: use text or json`);
}

function completionCommand(args: string[]): void {
  const shell = args[0];
  if (shell === undefined || shell === '-h' || shell === '--help') {
    process.stdout.write(
      'Usage:\n  sc completion bash|zsh|fish|powershell\n\n' +
        'Example (bash):  source <(sc completion bash)\n',
    );
    if (shell === undefined) process.exitCode = ExitCode.CONFIG;
    return;
  }
  if (!(SHELLS as readonly string[]).includes(shell))
    usageError(`unknown shell "${shell}": use ${SHELLS.join(', ')}`);
  if (args.length > 1) usageError(`unexpected argument "${args[1]}" for completion`);
  process.stdout.write(completionScript(shell as Shell));
}

function helpCommand(args: string[]): void {
  const topic = args[0];
  if (topic === undefined) process.stdout.write(ROOT_HELP);
  else if (topic === 'run') process.stdout.write(runHelp());
  else if (topic === 'ready') process.stdout.write(READY_HELP);
  else if (topic === 'doctor') process.stdout.write(doctorHelp());
  else if (topic === 'version') versionCommand(['--help']);
  else if (topic === 'completion') completionCommand(['--help']);
  else usageError(`unknown help topic "${topic}"`);
}

async function main(argv: string[]): Promise<void> {
  const [cmd, ...rest] = argv;
  switch (cmd) {
    case 'run':
      return runCommand(rest);
    case 'ready':
      return readyCommand(rest);
    case 'doctor':
      return doctorCommand(rest);
    case 'legacy':
      return legacyCommand(rest);
    case 'version':
    case '--version':
      return versionCommand(rest);
    case 'completion':
      return completionCommand(rest);
    case undefined:
    case 'help':
    case '-h':
    case '--help':
      return helpCommand(rest);
    default:
      if (cmd.startsWith('-'))
        usageError(`flags go after a command: did you mean "sc run ${argv.join(' ')}"?`);
      usageError(`unknown command "${cmd}"`);
  }
}

// Keep secrets given on the command line (--access-key...) out of `ps` (docs/security.md).
process.title = ['sc', ...maskedArgv(process.argv.slice(2), RUN_FLAGS)].join(' ');
main(process.argv.slice(2)).catch((err: unknown) => {
  process.stderr.write(`sc: internal error: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(ExitCode.INTERNAL);
});
