/**
 * The test runner behind `npm test`, `npm run test:unit` and `npm run test:integration` (see test/README.md).
 *
 *   node dist/scripts/run-tests.js [unit|integration|browser|<dir or file under test/>]...
 *
 * Node 20's `--test` has no globs, and `node --test dist/test/` also runs the kit's modules as tests: this collects
 * only dist/test/**\/*.test.js (whose test/**\/*.test.ts still exists, so a moved or deleted test left behind in
 * dist/ is not run), outside test/kit, and runs them with `node --test`. It exits with node's exit code.
 *
 * With SLUICE_COVERAGE=1 every process of the run (test files, and the sc and sc-server they start) writes V8
 * coverage, and `c8 report` prints a summary for src/ at the end; coverage never changes the exit code.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '../..');
const DIST_TEST = join(ROOT, 'dist/test');
const TIERS = ['unit', 'integration', 'browser'];

function collect(path: string, out: string[]): void {
  if (!existsSync(path)) return;
  if (statSync(path).isDirectory()) {
    if (relative(DIST_TEST, path) === 'kit') return;
    for (const name of readdirSync(path).sort()) collect(join(path, name), out);
    return;
  }
  if (!path.endsWith('.test.js')) return;
  const source = join(ROOT, 'test', relative(DIST_TEST, path)).replace(/\.js$/, '.ts');
  if (existsSync(source)) out.push(path);
}

/** A tier name, or a path given as test/..., dist/test/... or relative to dist/test. */
function root(arg: string): string {
  if (TIERS.includes(arg)) return join(DIST_TEST, arg);
  const rel = arg.replace(/^(\.\/)?(dist\/)?(test\/)?/, '').replace(/\.ts$/, '.js');
  return join(DIST_TEST, rel);
}

const args = process.argv.slice(2);
const files: string[] = [];
for (const arg of args.length ? args : ['.']) {
  const r = arg === '.' ? DIST_TEST : root(arg);
  // A tier with no tests yet (test/browser) compiles to nothing: that is an empty run, not an error.
  if (!existsSync(r) && !TIERS.includes(arg)) {
    console.error(`run-tests: no such tier, directory or file: ${r} (did you run npm run build?)`);
    process.exit(2);
  }
  collect(r, files);
}
if (files.length === 0 && !args.every((a) => TIERS.includes(a))) {
  console.error(`run-tests: no *.test.js under ${args.join(', ')}`);
  process.exit(2);
}

const coverage = process.env['SLUICE_COVERAGE'] === '1';
const covDir = coverage ? mkdtempSync(join(tmpdir(), 'sluice-coverage-')) : undefined;
const env = { ...process.env };
if (covDir) env['NODE_V8_COVERAGE'] = covDir;

let code = 0;
if (files.length) {
  const run = spawnSync(
    process.execPath,
    [
      '--test',
      `--test-concurrency=${process.env['SLUICE_TEST_CONCURRENCY'] ?? '2'}`,
      '--test-timeout=180000',
      // A file whose tests have all ended (after hooks and the kit's cleanup included) exits even when a handle
      // leaked (seen once: a browser test's socket inside its network namespace): a leak must not hang CI.
      '--test-force-exit',
      ...files.map((f) => relative(ROOT, f)),
    ],
    { cwd: ROOT, env, stdio: 'inherit' },
  );
  code = run.status ?? 1;
} else {
  console.log('run-tests: no tests in this tier yet');
}

if (covDir) {
  // Coverage of src/ (sc, sc-server and the modules unit tests load), mapped back to the .ts sources.
  const c8 = join(ROOT, 'node_modules/c8/bin/c8.js');
  const report = spawnSync(
    process.execPath,
    [
      c8,
      'report',
      '--temp-directory',
      covDir,
      '--reports-dir',
      join(covDir, 'report'),
      '--include',
      'dist/src/**',
      '--include',
      'src/**',
      '--exclude-after-remap',
      '--reporter',
      'text-summary',
      '--reporter',
      'text',
    ],
    { cwd: ROOT, stdio: 'inherit' },
  );
  if (report.status !== 0)
    console.error('run-tests: c8 report failed (coverage only; the test result stands)');
  rmSync(covDir, { recursive: true, force: true });
}
process.exit(code);
