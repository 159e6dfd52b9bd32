/** The client address behind trusted load balancers (src/server/proxy/client-address.ts). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { clientAddress } from '../../src/server/proxy/client-address.js';

const lb = new Set(['10.0.0.1', '10.0.0.2']);

test('X-Forwarded-For counts only from trusted proxies, right to left, stopping at the first untrusted hop', () => {
  assert.equal(clientAddress('192.0.2.9', '198.51.100.1', lb), '192.0.2.9', 'untrusted peer: header ignored');
  assert.equal(clientAddress('10.0.0.1', undefined, lb), '10.0.0.1', 'no header: the balancer itself');
  assert.equal(clientAddress('10.0.0.1', '198.51.100.1', lb), '198.51.100.1');
  assert.equal(
    clientAddress('10.0.0.1', 'spoofed, 198.51.100.1', lb),
    '198.51.100.1',
    'client-written entries',
  );
  assert.equal(clientAddress('10.0.0.1', '198.51.100.1, 10.0.0.2', lb), '198.51.100.1', 'two balancers');
  assert.equal(clientAddress('::ffff:10.0.0.1', '198.51.100.1', lb), '198.51.100.1', 'IPv4-mapped peer');
  assert.equal(clientAddress('10.0.0.1', ['a', '198.51.100.1'], lb), '198.51.100.1', 'repeated header');
  assert.equal(clientAddress('10.0.0.1', 'not-an-ip', lb), '10.0.0.1', 'garbage: stop at the balancer');
});
