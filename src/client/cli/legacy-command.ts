/**
 * `sc legacy`: Sauce Connect 4 command lines, translated by the one table (src/client/legacy/mapping.ts) into
 * `sc run` flags and run by `sc run` itself. On top it writes SC4's pidfile and readyfile and logs a warning
 * for every flag that lost its meaning. docs/legacy.md lists every flag.
 */
import { maskedArgv } from '../../options/redact.js';
import { ExitCode } from '../exit-codes.js';
import { legacyHelp } from '../legacy/docs.js';
import { LegacyFiles } from '../legacy/files.js';
import { writeSc5Config } from '../legacy/output-config.js';
import { LEGACY_SECRET_FLAGS, LegacyError, translateLegacy, type Translation } from '../legacy/translate.js';
import { runCommand } from './run-command.js';
import { versionText } from './version-info.js';

function fail(message: string): never {
  process.stderr.write(`sc legacy: ${message}\nRun "sc legacy --help" for the SC4 flags.\n`);
  process.exit(ExitCode.CONFIG);
}

export async function legacyCommand(argv: string[]): Promise<void> {
  process.title = ['sc', 'legacy', ...maskedArgv(argv, LEGACY_SECRET_FLAGS)].join(' ');
  let t: Translation;
  try {
    t = translateLegacy(argv, process.env);
  } catch (err) {
    if (err instanceof LegacyError) fail(err.message);
    throw err;
  }
  if (t.help) {
    process.stdout.write(legacyHelp());
    return;
  }
  if (t.version) {
    process.stdout.write(versionText());
    return;
  }
  if (t.outputConfigFile) {
    try {
      writeSc5Config(t.outputConfigFile, t, 'an SC4 command line');
    } catch (err) {
      fail(`cannot write --output-config-file ${t.outputConfigFile}: ${(err as Error).message}`);
    }
    for (const w of t.warnings) process.stderr.write(`sc legacy: warning: ${w}\n`);
    process.stdout.write(`wrote ${t.outputConfigFile}; run it with: sc run -c ${t.outputConfigFile}\n`);
    return;
  }
  const files = new LegacyFiles(t.pidfile, t.readyfile);
  await runCommand(t.argv, {
    started(log) {
      const legacy = log.child('legacy');
      for (const w of t.warnings) legacy.warn(w);
      try {
        files.start();
      } catch (err) {
        legacy.error('cannot write the pidfile or remove an old readyfile', {
          error: (err as Error).message,
        });
        fail(`cannot write --pidfile or remove the old --readyfile: ${(err as Error).message}`);
      }
    },
    ready(log) {
      try {
        files.ready();
        if (t.readyfile) log.child('legacy').info('readyfile written', { path: t.readyfile });
      } catch (err) {
        // A script waiting for the file would wait forever: exit instead.
        log.child('legacy').error('cannot write the readyfile', { error: (err as Error).message });
        fail(`cannot write --readyfile: ${(err as Error).message}`);
      }
    },
  });
}
