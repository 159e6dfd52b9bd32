import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseProxyAuthorization } from '../../src/server/proxy/proxy-credentials.js';

const basic = (s: string): string => 'Basic ' + Buffer.from(s).toString('base64');

test('user, tunnel and owner come from the proxy user name', () => {
  assert.deepEqual(parseProxyAuthorization(basic('alice;tunnel=ci-42;owner=bob:K:E:Y')), {
    username: 'alice',
    accessKey: 'K:E:Y',
    tunnelName: 'ci-42',
    tunnelOwner: 'bob',
  });
});

test('percent-encoded values are decoded and SC aliases are accepted', () => {
  const c = parseProxyAuthorization(basic('alice;tunnelName=my%20tunnel;parentTunnel=bob:key'));
  assert.equal(c?.tunnelName, 'my tunnel');
  assert.equal(c?.tunnelOwner, 'bob');
});

test('missing or non-Basic credentials give null; unknown parameters are refused', () => {
  assert.equal(parseProxyAuthorization(undefined), null);
  assert.equal(parseProxyAuthorization('Bearer abc'), null);
  assert.equal(parseProxyAuthorization(basic('no-colon')), null);
  assert.throws(
    () => parseProxyAuthorization(basic('alice;color=red:key')),
    /unknown proxy user parameter "color"/,
  );
});
