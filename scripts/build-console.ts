/**
 * Part of `npm run build`: puts the web console's static files beside its compiled module, in
 * dist/src/server/console/static/ (docs/console.md, docs/decisions/0017-console.md). Our own files are copied as
 * they are; the front-end libraries are copied from node_modules into vendor/ as ES modules, with the one bare
 * import they have (`preact`, from preact/hooks) pointed at the vendored file, so the browser loads them with no
 * bundler and no import map. Nothing is built at run time.
 */
import { cpSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const SRC = join(ROOT, 'src/server/console/static');
const OUT = join(ROOT, 'dist/src/server/console/static');

/** node_modules file -> vendor/ name. */
const VENDOR: [string, string][] = [
  ['preact/dist/preact.module.js', 'preact.js'],
  ['preact/hooks/dist/hooks.module.js', 'preact-hooks.js'],
  ['htm/dist/htm.module.js', 'htm.js'],
  ['uplot/dist/uPlot.esm.js', 'uplot.js'],
  ['uplot/dist/uPlot.min.css', 'uplot.css'],
];
const LICENSES: [string, string][] = [
  ['preact/LICENSE', 'preact.LICENSE.txt'],
  ['htm/LICENSE', 'htm.LICENSE.txt'],
  ['uplot/LICENSE', 'uplot.LICENSE.txt'],
];

rmSync(OUT, { recursive: true, force: true });
mkdirSync(join(OUT, 'vendor'), { recursive: true });
cpSync(SRC, OUT, { recursive: true });
for (const [from, to] of VENDOR) {
  let text = readFileSync(join(ROOT, 'node_modules', from), 'utf8');
  // Source map comments would make the browser ask for files that are not shipped.
  text = text.replace(/\n?\/\/# sourceMappingURL=\S+\s*$/, '\n');
  if (to.endsWith('.js')) {
    text = text.replace(/from\s*["']preact["']/g, 'from"./preact.js"');
    if (/(?:^|[;}\n])\s*(?:import|export)\s*(?:[\w*{}\s,$]+from\s*)?["'][^./]/.test(text))
      throw new Error(`${from} still has a bare import after vendoring`);
  }
  writeFileSync(join(OUT, 'vendor', to), text);
}
for (const [from, to] of LICENSES)
  cpSync(join(ROOT, 'node_modules', from), join(OUT, 'vendor', to.replace(/\.txt$/, '.txt')));
