/**
 * Regenerates docs/cli.md, docs/config.md, docs/server-cli.md, docs/legacy.md (from the `sc legacy` mapping) and the options table of docs/server.md (between
 * its BEGIN/END markers) from the flag registries: `node dist/scripts/gen-docs.js`.
 * The output goes through prettier (the repository's format check covers docs/), and
 * test/unit/options/docs-fresh.test.ts fails when the committed files differ from it.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as prettier from 'prettier';
import {
  renderCliMarkdown,
  renderConfigMarkdown,
  renderServerCliMarkdown,
  renderServerOptionsTable,
  SERVER_TABLE_BEGIN,
  SERVER_TABLE_END,
} from '../src/options/index.js';
import { renderLegacyMarkdown } from '../src/client/legacy/docs.js';

// dist/scripts/gen-docs.js -> repository root
export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** docs/server.md with its options table replaced by the generated one. */
function serverMd(): string {
  const text = readFileSync(resolve(ROOT, 'docs/server.md'), 'utf8');
  const a = text.indexOf(SERVER_TABLE_BEGIN);
  const b = text.indexOf(SERVER_TABLE_END);
  if (a < 0 || b < a) throw new Error('docs/server.md: the options table markers are missing');
  return text.slice(0, a) + renderServerOptionsTable() + text.slice(b + SERVER_TABLE_END.length);
}

/** File path (relative to the root) -> expected content. */
export async function generatedDocs(): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const docs: [string, string][] = [
    ['docs/cli.md', renderCliMarkdown()],
    ['docs/config.md', renderConfigMarkdown()],
    ['docs/server-cli.md', renderServerCliMarkdown()],
    ['docs/server.md', serverMd()],
    ['docs/legacy.md', renderLegacyMarkdown()],
  ];
  for (const [path, text] of docs) {
    const file = resolve(ROOT, path);
    const config = (await prettier.resolveConfig(file)) ?? {};
    out[path] = await prettier.format(text, { ...config, filepath: file });
  }
  return out;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const docs = await generatedDocs();
  for (const [path, text] of Object.entries(docs)) writeFileSync(resolve(ROOT, path), text);
  process.stdout.write(`wrote ${Object.keys(docs).join(', ')}\n`);
}
