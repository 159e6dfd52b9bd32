/**
 * `sc doctor`: the flags, env vars and config file of `sc run` (one parser: src/options/, plus --check-url and
 * --output), then every check of src/client/doctor/, printed one per line as they finish (or as one JSON
 * document), secrets masked. Exit 0 when no check failed, 6 when one did, 2 for bad options.
 */
import {
  ConfigError,
  DOCTOR_FLAGS,
  DOCTOR_GROUPS,
  envName,
  GROUPS,
  parseDoctorOptions,
  secretValues,
  type DoctorOptions,
} from '../../options/index.js';
import { DOCTOR_NO_ENV } from '../../options/doctor-flags.js';
import { flagHelpLine, flagSections } from '../../options/help.js';
import { runDoctor } from '../doctor/doctor.js';
import { formatJson, formatResult, formatSummary, redactText, type CheckResult } from '../doctor/result.js';
import { ExitCode } from '../exit-codes.js';

export function doctorHelp(): string {
  const out = [
    'Check that sc run can work from this machine, with the same flags, env vars and config file: DNS, the',
    'upstream proxy or PAC, reachability and TLS of the server, the credentials, the tunnel name, and each',
    '--check-url through the egress. Prints one line per check (OK, FAIL, SKIP) and, for each failure, the',
    'cause and the fix. Exit code 0 when no check failed, 6 when one did, 2 for invalid options.',
    '',
    'Usage:',
    '  sc doctor [sc run flags] [--check-url URL]... [--output text|json]',
  ];
  out.push(
    ...flagSections(DOCTOR_FLAGS, [...DOCTOR_GROUPS, ...GROUPS], (f) =>
      flagHelpLine(f, DOCTOR_NO_ENV.has(f.name) ? ['no env'] : [envName(f.name)], 46),
    ),
  );
  out.push('', 'See docs/doctor.md for each check, what its failure means and the fix.');
  return out.join('\n') + '\n';
}

function wantsHelp(argv: string[]): boolean {
  const end = argv.indexOf('--');
  return (end < 0 ? argv : argv.slice(0, end)).some((a) => a === '-h' || a === '--help');
}

export async function doctorCommand(argv: string[]): Promise<void> {
  if (wantsHelp(argv)) {
    process.stdout.write(doctorHelp());
    return;
  }
  let opts: DoctorOptions;
  try {
    opts = parseDoctorOptions(argv, process.env, process.cwd()).options;
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`sc: ${err.message}\n`);
      process.exit(ExitCode.CONFIG);
    }
    throw err;
  }
  const secrets = secretValues(opts, DOCTOR_FLAGS);
  const text = opts.output === 'text';
  const results = await runDoctor(opts, process.cwd(), (r: CheckResult) => {
    if (text) process.stdout.write(redactText(formatResult(r), secrets));
  });
  const failed = results.some((r) => r.status === 'FAIL');
  if (text) process.stdout.write(formatSummary(results));
  else process.stdout.write(redactText(formatJson(results), secrets));
  process.exit(failed ? ExitCode.CHECK_FAILED : ExitCode.OK);
}
