/**
 * Regenerates docs/cli.md and docs/config.md from the flag registry: `node dist/scripts/gen-docs.js`.
 * The output goes through prettier (the repository's format check covers docs/), and
 * test/options/docs-fresh.test.ts fails when the committed files differ from it.
 */
import { writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as prettier from 'prettier';
import { renderCliMarkdown, renderConfigMarkdown } from '../src/options/index.js';

// dist/scripts/gen-docs.js -> repository root
export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** File path (relative to the root) -> expected content. */
export async function generatedDocs(): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const docs: [string, string][] = [
    ['docs/cli.md', renderCliMarkdown()],
    ['docs/config.md', renderConfigMarkdown()],
  ];
  for (const [path, text] of docs) {
    const file = resolve(ROOT, path);
    const config = (await prettier.resolveConfig(file)) ?? {};
    out[path] = await prettier.format(text, { ...config, filepath: file });
  }
  return out;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  for (const [path, text] of Object.entries(await generatedDocs())) writeFileSync(resolve(ROOT, path), text);
  process.stdout.write('wrote docs/cli.md and docs/config.md\n');
}
