import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { codeForSocketError, proxyErrors } from '../../src/protocol/errors.js';

const doc = readFileSync(join(import.meta.dirname, '../../../docs/errors.md'), 'utf8');

test('docs/errors.md lists every proxy error code with its status, and no other', () => {
  const rows = [...doc.matchAll(/^\|\s*`([a-z_]+)`\s*\|\s*(\d{3})\s*\|/gm)].map(
    (m) => [m[1], Number(m[2])] as const,
  );
  const documented = new Map(rows);
  for (const [code, def] of Object.entries(proxyErrors)) {
    assert.equal(
      documented.get(code),
      def.status,
      `docs/errors.md: ${code} should be listed with ${def.status}`,
    );
  }
  for (const code of documented.keys())
    assert.ok(code! in proxyErrors, `docs/errors.md lists unknown code ${code}`);
});

test('socket errors map to the documented codes', () => {
  assert.equal(codeForSocketError(Object.assign(new Error(), { code: 'ECONNREFUSED' })), 'dial_refused');
  assert.equal(codeForSocketError(Object.assign(new Error(), { code: 'ENOTFOUND' })), 'dns_failed');
  assert.equal(codeForSocketError(Object.assign(new Error(), { code: 'ESC_DIAL_TIMEOUT' })), 'dial_timeout');
  assert.equal(codeForSocketError(new Error('other')), 'dial_failed');
});
