/** docs/cli.md and docs/config.md are generated from the registry: regenerate with `node dist/scripts/gen-docs.js`. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { test } from 'node:test';
import { generatedDocs, ROOT } from '../../../scripts/gen-docs.js';
import { RUN_FLAGS } from '../../../src/options/index.js';

test('docs/cli.md and docs/config.md match the flag registry', async () => {
  for (const [path, expected] of Object.entries(await generatedDocs())) {
    const actual = readFileSync(resolve(ROOT, path), 'utf8');
    assert.ok(
      actual === expected,
      `${path} is stale: run \`npm run build && node dist/scripts/gen-docs.js\``,
    );
  }
});

test('every flag and env var appears in the docs', () => {
  const cli = readFileSync(resolve(ROOT, 'docs/cli.md'), 'utf8');
  const config = readFileSync(resolve(ROOT, 'docs/config.md'), 'utf8');
  for (const f of RUN_FLAGS) {
    assert.ok(cli.includes(`\`--${f.name}\``), `--${f.name} in docs/cli.md`);
    assert.ok(
      config.includes(`#${f.name}:`) || f.name === 'config-file',
      `${f.name} in the template of docs/config.md`,
    );
  }
});
