/** Domain rules and direct routing's address checks, in process (src/server/routing). */
import assert from 'node:assert/strict';
import { BlockList } from 'node:net';
import { test } from 'node:test';
import { checkDomainRule, DomainRules, RuleSet } from '../../../src/server/routing/domain-rules.js';
import { parseNetworks, refusal, type DirectPolicy } from '../../../src/server/routing/direct-dial.js';
import { parseRunOptions } from '../../../src/options/index.js';

const rules = (lists: Partial<ConstructorParameters<typeof DomainRules>[0]>) =>
  new DomainRules({ tunnelDomains: [], directDomains: [], denyDomains: [], ...lists });

test('patterns match the whole host name: example\\.com does not match notexample.com.evil', () => {
  const set = new RuleSet(['example\\.com']);
  assert.equal(set.match('example.com'), 'example\\.com');
  assert.equal(set.match('notexample.com.evil'), undefined);
  assert.equal(set.match('notexample.com'), undefined);
  assert.equal(set.match('example.com.evil'), undefined);
  const sub = new RuleSet(['.*\\.example\\.com']);
  assert.equal(sub.match('a.b.example.com'), '.*\\.example\\.com');
  assert.equal(sub.match('example.com'), undefined);
});

test('case-insensitive, exclusions with -, and all', () => {
  const set = new RuleSet(['.*\\.corp', '-public\\.corp']);
  assert.equal(set.match('intranet.corp'), '.*\\.corp');
  assert.equal(set.match('public.corp'), undefined);
  assert.equal(new RuleSet(['Example\\.COM']).match('example.com'), 'Example\\.COM');
  assert.equal(new RuleSet(['all']).match('anything.at.all'), 'all');
});

test('decide: deny first, then tunnel_domains or direct_domains; hosts are normalised', () => {
  const r = rules({ directDomains: ['cdn\\.test'], denyDomains: ['ads\\.test'] });
  assert.deepEqual(r.decide('ADS.test.'), { action: 'deny', rule: 'deny_domains "ads\\.test"' });
  assert.deepEqual(r.decide('cdn.test'), { action: 'direct', rule: 'direct_domains "cdn\\.test"' });
  assert.deepEqual(r.decide('app.test'), { action: 'tunnel' });
  const t = rules({ tunnelDomains: ['.*\\.internal'] });
  assert.deepEqual(t.decide('a.internal'), { action: 'tunnel' });
  assert.deepEqual(t.decide('example.org'), { action: 'direct', rule: 'not in tunnel_domains' });
  assert.equal(rules({}).any, false);
  assert.equal(t.any, true);
  assert.deepEqual(rules({ directDomains: ['::1'] }).decide('[::1]').action, 'direct');
});

test('bad rules and conflicting lists are refused with the list and rule named', () => {
  assert.throws(() => rules({ denyDomains: ['(x'] }), /deny_domains: "\(x" is an invalid regular expression/);
  // RE2 has no look-around: refused, where JavaScript's RegExp would accept it.
  assert.match(checkDomainRule('(?<=a)b') ?? '', /invalid regular expression/);
  assert.match(checkDomainRule('*.example.com') ?? '', /write \.\*\\\. instead/);
  assert.match(checkDomainRule('a b') ?? '', /no spaces/);
  assert.equal(checkDomainRule('-.*\\.example\\.com'), undefined);
  assert.throws(() => rules({ tunnelDomains: ['a'], directDomains: ['b'] }), /exclude each other/);
});

test('a pattern that backtracks exponentially in JavaScript is matched in linear time', () => {
  const set = new RuleSet(['(a+)+b']);
  assert.equal(set.match('a'.repeat(50_000) + 'c'), undefined);
});

test('sc run: the domain flags parse into the create body lists', () => {
  const required = [
    '-u',
    'a',
    '-k',
    'k',
    '-r',
    'us-west',
    '-i',
    't',
    '--rest-url',
    'https://127.0.0.1:1/rest/v1',
  ];
  const argv = ['--deny-domains', 'ads\\.test,-ok\\.ads\\.test', '--direct-domains', 'cdn\\.test'];
  const o = parseRunOptions([...required, ...argv], {}, process.cwd()).options;
  assert.deepEqual(o.denyDomains, ['ads\\.test', '-ok\\.ads\\.test']);
  assert.deepEqual(o.directDomains, ['cdn\\.test']);
});

test('direct routing refuses loopback, private, link-local and the server itself', () => {
  const policy: DirectPolicy = { allowed: new BlockList(), ownPorts: () => [8080] };
  assert.match(refusal('127.0.0.1', 80, policy) ?? '', /loopback, private or link-local/);
  assert.match(refusal('::ffff:127.0.0.1', 80, policy) ?? '', /loopback/);
  assert.match(refusal('169.254.169.254', 80, policy) ?? '', /link-local/);
  assert.match(refusal('10.1.2.3', 80, policy) ?? '', /private/);
  assert.match(refusal('192.168.1.1', 80, policy) ?? '', /private/);
  assert.match(refusal('fd00::1', 80, policy) ?? '', /private/);
  assert.match(refusal('::1', 80, policy) ?? '', /loopback/);
  assert.equal(refusal('93.184.216.34', 80, policy), undefined);
  const allowed: DirectPolicy = { ...policy, allowed: parseNetworks(['127.0.0.1/32', '10.0.0.0/8']) };
  assert.equal(refusal('127.0.0.1', 80, allowed), undefined);
  assert.equal(refusal('10.9.9.9', 80, allowed), undefined);
  assert.match(refusal('127.0.0.2', 80, allowed) ?? '', /loopback/);
  assert.match(refusal('127.0.0.1', 8080, allowed) ?? '', /the server's own listeners/);
  assert.throws(() => parseNetworks(['10.0.0.0/33']), /"10\.0\.0\.0\/33" is not a network/);
  assert.throws(() => parseNetworks(['example.com']), /not a network/);
});
