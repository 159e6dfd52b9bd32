/** /configz and the startup log show options with secrets masked; the log scrubber knows every secret. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  changedOptions,
  defaultRunOptions,
  parseRunOptions,
  redactedConfig,
  secretValues,
} from '../../../src/options/index.js';

const opts = {
  ...defaultRunOptions(),
  username: 'alice',
  accessKey: 'ACCESS-KEY-SECRET',
  apiBasicAuth: 'admin:API-PASS-SECRET',
  proxy: 'http://bob:PROXY-PASS-SECRET@proxy:3128',
  auth: ['carol:SITE-PASS-SECRET@intranet:443', 'dave@*:*'],
  header: ['Authorization: Bearer HEADER-TOKEN-SECRET'],
  restUrl: 'https://sc.example.com/rest/v1',
  httpDialTimeout: 90_000,
  metadata: { runner: 'ci' },
};

test('redactedConfig lists every option as flag text, secrets masked', () => {
  const c = redactedConfig(opts);
  const text = JSON.stringify(c);
  assert.doesNotMatch(text, /SECRET/);
  assert.equal(c['access-key'], '****');
  assert.equal(c['api-basic-auth'], 'admin:****');
  assert.equal(c['proxy'], 'http://bob:****@proxy:3128');
  assert.equal(c['auth'], 'carol:****@intranet:443,dave:****@*:*');
  assert.equal(c['header'], 'Authorization: ****');
  assert.equal(c['rest-url'], 'https://sc.example.com/rest/v1');
  assert.equal(c['http-dial-timeout'], '1m30s');
  assert.equal(c['tls-resign-domains'], '.*');
  assert.equal(c['metadata'], 'runner=ci');
  assert.equal(c['username'], 'alice');
});

test('secretValues gives the raw secrets (not the surrounding text) for the log scrubber', () => {
  const s = secretValues(opts);
  for (const secret of ['ACCESS-KEY-SECRET', 'API-PASS-SECRET', 'PROXY-PASS-SECRET', 'SITE-PASS-SECRET'])
    assert.ok(s.includes(secret), `${secret} in ${JSON.stringify(s)}`);
  assert.ok(s.some((x) => x.includes('HEADER-TOKEN-SECRET')));
  assert.ok(!s.some((x) => x.includes('sc.example.com')), 'the REST URL has no secret');
});

test('changedOptions lists only what differs from the defaults', () => {
  const { options, sources } = parseRunOptions(
    [
      '-u',
      'a',
      '-k',
      'key-1234',
      '-r',
      'us-west',
      '-i',
      'n',
      '--rest-url',
      'https://x/rest/v1',
      '--log-level',
      'info',
    ],
    { SAUCE_LOG_FORMAT: 'json' },
    process.cwd(),
  );
  const changed = changedOptions(options, sources);
  assert.deepEqual(Object.keys(changed).sort(), [
    'access-key',
    'log-format',
    'region',
    'rest-url',
    'tunnel-name',
    'username',
  ]);
  assert.equal(changed['access-key'], '****');
});
