import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Backoff } from '../../src/client/supervisor/backoff.js';
import { isLocalhostName } from '../../src/client/egress/dialer.js';
import { endToEndHeaders, parseBearer, withVia } from '../../src/protocol/tunnel-protocol.js';

test('backoff doubles up to the cap, with jitter in the upper half', () => {
  const b = new Backoff(100, 1000, () => 1);
  assert.deepEqual(
    [b.next(), b.next(), b.next(), b.next(), b.next(), b.next()],
    [100, 200, 400, 800, 1000, 1000],
  );
  const low = new Backoff(100, 1000, () => 0);
  assert.equal(low.next(), 50);
  b.reset();
  assert.equal(b.next(), 100);
});

test('hop-by-hop headers, and those named by Connection, are dropped', () => {
  const out = endToEndHeaders({
    connection: 'keep-alive, x-secret-hop',
    'keep-alive': 'timeout=5',
    'x-secret-hop': '1',
    'proxy-authorization': 'Basic x',
    'transfer-encoding': 'chunked',
    host: 'a',
    accept: 'text/html',
  });
  assert.deepEqual(out, { accept: 'text/html' });
  assert.equal(withVia(undefined), '1.1 sluice');
  assert.equal(withVia('1.0 corp', '2'), '1.0 corp, 2 sluice');
});

test('localhost detection covers names and loopback addresses', () => {
  for (const h of [
    'localhost',
    'LOCALHOST.',
    'app.localhost',
    '127.0.0.1',
    '127.9.9.9',
    '[::1]',
    '0.0.0.0',
    '::',
  ]) {
    assert.equal(isLocalhostName(h), true, h);
  }
  for (const h of ['example.com', '10.0.0.1', 'localhost.example.com', '::2'])
    assert.equal(isLocalhostName(h), false, h);
});

test('tunnel bearer tokens parse strictly', () => {
  const id = 'a'.repeat(32);
  assert.deepEqual(parseBearer(`Bearer ${id}.${'x'.repeat(43)}`), { tunnelId: id, token: 'x'.repeat(43) });
  assert.equal(parseBearer(`Bearer ${id}`), null);
  assert.equal(parseBearer(`Bearer zz.${'x'.repeat(43)}`), null);
});
