/**
 * Issue 13, point 1 (network cut): sc's redial loop sleeps with the process-wide abort signal once per attempt.
 * Each sleep must take its abort listener away when it ends, or a long outage piles up one listener per retry
 * (found by the network-cut fault test: MaxListenersExceededWarning after eleven retries).
 */
import assert from 'node:assert/strict';
import { getEventListeners } from 'node:events';
import { test } from 'node:test';
import { sleep } from '../../../src/client/supervisor/backoff.js';

test('a finished backoff sleep leaves no listener on the abort signal', async () => {
  const ac = new AbortController();
  for (let i = 0; i < 20; i++) await sleep(1, ac.signal);
  assert.equal(getEventListeners(ac.signal, 'abort').length, 0);
});

test('an abort ends a pending sleep at once and leaves no listener', async () => {
  const ac = new AbortController();
  const pending = sleep(60_000, ac.signal);
  assert.equal(getEventListeners(ac.signal, 'abort').length, 1);
  ac.abort();
  await pending;
  assert.equal(getEventListeners(ac.signal, 'abort').length, 0);
});
