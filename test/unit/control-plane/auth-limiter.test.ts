import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AuthLimiter } from '../../../src/server/accounts/auth-limiter.js';

function limiter(opts: { perIp?: number; perAccount?: number; maxEntries?: number } = {}) {
  let now = 1_000_000;
  const l = new AuthLimiter({
    windowMs: 60_000,
    maxFailuresPerIp: opts.perIp ?? 5,
    maxFailuresPerAccount: opts.perAccount ?? 3,
    maxEntries: opts.maxEntries ?? 100,
    now: () => now,
  });
  return { l, advance: (ms: number) => (now += ms) };
}

test('an account is refused after its failure limit, with Retry-After until the oldest failure expires', () => {
  const { l, advance } = limiter();
  for (let i = 0; i < 3; i++) {
    assert.deepEqual(l.check('10.0.0.1', 'alice'), { allowed: true });
    l.recordFailure('10.0.0.1', 'alice');
    advance(10_000);
  }
  // Failures at 0 s, 10 s, 20 s; now 30 s: the first leaves the window at 60 s.
  assert.deepEqual(l.check('10.0.0.2', 'alice'), { allowed: false, retryAfter: 30 });
  assert.deepEqual(
    l.check('10.0.0.1', 'bob'),
    { allowed: true },
    'other accounts from that IP still allowed',
  );
  advance(30_000);
  assert.deepEqual(l.check('10.0.0.2', 'alice'), { allowed: true });
});

test('a source IP is refused after its limit whatever username it tries', () => {
  const { l } = limiter({ perIp: 4, perAccount: 100 });
  for (let i = 0; i < 4; i++) l.recordFailure('::ffff:10.0.0.9', `user${i}`);
  const d = l.check('10.0.0.9', 'someone-else');
  assert.equal(d.allowed, false);
  assert.ok(!d.allowed && d.retryAfter >= 1 && d.retryAfter <= 60);
  assert.deepEqual(l.check('10.0.0.10', 'someone-else'), { allowed: true });
});

test("success clears the account's count but not the IP's", () => {
  const { l } = limiter({ perIp: 4, perAccount: 2 });
  l.recordFailure('1.1.1.1', 'alice');
  l.recordFailure('1.1.1.1', 'alice');
  assert.equal(l.check('1.1.1.1', 'alice').allowed, false);
  l.recordSuccess('1.1.1.1', 'alice');
  assert.equal(l.check('1.1.1.2', 'alice').allowed, true);
  l.recordFailure('1.1.1.1', 'bob');
  l.recordFailure('1.1.1.1', 'carol');
  assert.equal(l.check('1.1.1.1', 'dave').allowed, false, 'the IP has 4 failures');
});

test('memory stays bounded under many sources', () => {
  const { l } = limiter({ maxEntries: 50 });
  for (let i = 0; i < 1000; i++) l.recordFailure(`10.1.${i >> 8}.${i & 255}`, `u${i}`);
  assert.ok(l.size <= 50, `tracked ${l.size}`);
});

test('bad limits are refused', () => {
  assert.throws(() => new AuthLimiter({ windowMs: 0 }), /windowMs/);
  assert.throws(() => new AuthLimiter({ maxFailuresPerAccount: 1.5 }), /maxFailuresPerAccount/);
});
