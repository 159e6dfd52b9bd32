/**
 * The server package (and so the server .deb, which is built from the same staged directory) carries the web
 * console's static files next to the module that serves them, vendored libraries and their licenses included.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { CONSOLE_STATIC, stageServer } from '../../../scripts/pack-lib.js';
import { cleanup, tempDir } from '../../kit/index.js';

after(cleanup);

test('the staged server package holds the console beside its module', async () => {
  const dir = join(await tempDir('sluice-console-pkg-'), 'server');
  const graph = await stageServer(dir);
  assert.ok(graph.files.includes('dist/src/server/console/console.js'), 'the console module is in the graph');
  for (const f of [
    'index.html',
    'app.js',
    'app.css',
    'vendor/preact.js',
    'vendor/preact-hooks.js',
    'vendor/htm.js',
    'vendor/uplot.js',
    'vendor/uplot.css',
    'vendor/preact.LICENSE.txt',
    'vendor/htm.LICENSE.txt',
    'vendor/uplot.LICENSE.txt',
  ])
    assert.ok(existsSync(join(dir, CONSOLE_STATIC, f)), `${f} is shipped`);
  // The browser libraries are build-time copies, not dependencies the package installs.
  const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { dependencies: object };
  for (const name of ['preact', 'htm', 'uplot']) assert.ok(!(name in pkg.dependencies), name);
  // Vendored modules import each other by relative path only (no bare specifiers for a browser to resolve).
  const hooks = readFileSync(join(dir, CONSOLE_STATIC, 'vendor/preact-hooks.js'), 'utf8');
  assert.match(hooks, /from"\.\/preact\.js"/);
});
