/**
 * README's "Use it for real", as a newcomer follows it: it says how sc and sc-server get onto the PATH, starts
 * `sc run` in the background before the readiness loop (a foreground sc never lets the loop run), and does not
 * make a second key for a user who just got one from "users create".
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '../../..');
const readme = readFileSync(resolve(ROOT, 'README.md'), 'utf8');
const section = readme.slice(readme.indexOf('## Use it for real'), readme.indexOf('## Documentation'));
const shell = /```sh\n([\s\S]*?)```/.exec(section)?.[1] ?? '';
const lines = shell.split('\n').filter((l) => l.trim() !== '' && !l.trimStart().startsWith('#'));

test('README "Use it for real" says how to get sc and sc-server onto the PATH', () => {
  assert.ok(section.length > 0 && shell.length > 0, 'the section and its shell block exist');
  assert.match(section, /npm install -g \./);
  assert.match(section, /docs\/install\.md/);
  assert.match(section, /docs\/deploy\.md/);
});

test('README "Use it for real": sc runs in the background before the readiness loop that waits for it', () => {
  const run = lines.findIndex((l) => /^sc run\b/.test(l));
  const loop = lines.findIndex((l) => l.startsWith('until ') && l.includes('localhost:8032/readiness'));
  assert.ok(run >= 0 && loop > run, 'sc run, then the loop');
  assert.match(lines[run]!, /&\s*$/, 'sc run is started in the background');
  assert.match(lines[run]!, /--api-address :8032/, 'the loop polls the API sc serves');
});

test('README "Use it for real": no second key for a user who got one from "users create"', () => {
  const created = new Set<string>();
  for (const l of lines) {
    const made = /sc-server admin users create (\S+)(?![^\n]*--no-key)/.exec(l);
    if (made) created.add(made[1]!);
    const key = /sc-server admin keys create (\S+)/.exec(l);
    if (key) assert.ok(!created.has(key[1]!), `${key[1]} already got a key from "users create"`);
  }
  // The admin's key comes from the first start, so it is not created again either.
  assert.doesNotMatch(shell, /keys create alice/);
});
