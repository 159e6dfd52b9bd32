/** sc doctor's options: sc run's registry and rules, plus --check-url and --output, which sc run refuses. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  ConfigError,
  DOCTOR_FLAGS,
  parseDoctorOptions,
  parseRunOptions,
  RUN_FLAGS,
  secretValues,
} from '../../../src/options/index.js';
import { formatJson, formatText, redactText } from '../../../src/client/doctor/result.js';

const REQUIRED = [
  '-u',
  'alice',
  '-k',
  'key-1234',
  '-r',
  'us-west',
  '-i',
  'ci-1',
  '--rest-url',
  'https://127.0.0.1:1/rest/v1',
];

test('doctor takes every sc run flag, and --check-url repeated or comma-separated', () => {
  assert.deepEqual(
    DOCTOR_FLAGS.slice(0, RUN_FLAGS.length).map((f) => f.name),
    RUN_FLAGS.map((f) => f.name),
  );
  const { options } = parseDoctorOptions(
    [
      ...REQUIRED,
      '--proxy-localhost',
      'allow',
      '--check-url',
      'http://a.test/',
      '--check-url',
      'https://b.test/x,http://c.test/',
    ],
    {},
    '/',
  );
  assert.equal(options.proxyLocalhost, 'allow');
  assert.deepEqual(options.checkUrl, ['http://a.test/', 'https://b.test/x', 'http://c.test/']);
  assert.equal(options.output, 'text');
});

test('SAUCE_CHECK_URL sets --check-url; --output has no env var', () => {
  const { options } = parseDoctorOptions(
    REQUIRED,
    { SAUCE_CHECK_URL: 'http://env.test/', SAUCE_OUTPUT: 'json' },
    '/',
  );
  assert.deepEqual(options.checkUrl, ['http://env.test/']);
  assert.equal(options.output, 'text');
});

test('bad doctor values are refused naming the flag; sc run refuses the doctor-only flags', () => {
  assert.throws(
    () => parseDoctorOptions([...REQUIRED, '--check-url', 'ftp://x/'], {}, '/'),
    (e: unknown) =>
      e instanceof ConfigError && /--check-url from the command line: expected an http/.test(e.message),
  );
  assert.throws(
    () => parseDoctorOptions([...REQUIRED, '--output', 'yaml'], {}, '/'),
    (e: unknown) => e instanceof ConfigError && /--output .*allowed values: text, json/.test(e.message),
  );
  assert.throws(
    () => parseRunOptions([...REQUIRED, '--check-url', 'http://a.test/'], {}, '/'),
    (e: unknown) => e instanceof ConfigError && /unknown flag --check-url/.test(e.message),
  );
  // sc run's own rules hold for doctor too: --proxy and --pac together are refused.
  assert.throws(
    () => parseDoctorOptions([...REQUIRED, '--proxy', 'p:1', '--pac', 'data:,x'], {}, '/'),
    (e: unknown) => e instanceof ConfigError && /cannot be used together/.test(e.message),
  );
});

test('the report: a line per check, cause and fix under failures, a summary; JSON ok only without failures; secrets masked', () => {
  const results = [
    { name: 'dns', status: 'OK' as const, detail: 'a -> 127.0.0.1' },
    {
      name: 'credentials',
      status: 'FAIL' as const,
      detail: 'refused (401)',
      cause: 'bad key',
      fix: 'check --access-key',
    },
    { name: 'tunnel', status: 'SKIP' as const, detail: 'not read' },
  ];
  const text = formatText(results);
  assert.match(text, /^OK {4}dns {11}a -> 127\.0\.0\.1$/m);
  assert.match(
    text,
    /^FAIL {2}credentials {3}refused \(401\)\n {6}cause: bad key\n {6}fix: {3}check --access-key$/m,
  );
  assert.match(text, /1 passed, 1 failed, 1 skipped\n$/);
  assert.equal((JSON.parse(formatJson(results)) as { ok: boolean }).ok, false);
  assert.equal((JSON.parse(formatJson([results[0]!])) as { ok: boolean }).ok, true);

  const { options } = parseDoctorOptions(
    [...REQUIRED, '--proxy', 'http://px:proxy-pass@127.0.0.1:3128'],
    {},
    '/',
  );
  const secrets = secretValues(options, DOCTOR_FLAGS);
  assert.equal(redactText('key-1234 and proxy-pass', secrets), '**** and ****');
});
