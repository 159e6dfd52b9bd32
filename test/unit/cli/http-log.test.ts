/** --log-http: modes per module, and credentials masked in headers mode. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createHttpLogger, logHttpModes } from '../../../src/observability/http-log.js';
import { createLogger } from '../../../src/observability/log.js';

function capture(): { lines: string[]; log: ReturnType<typeof createLogger> } {
  const lines: string[] = [];
  return {
    lines,
    log: createLogger({ module: 'proxy', sink: { write: (l: string) => void lines.push(l) } }),
  };
}

const ok = { method: 'GET', url: 'http://app:3000/path?token=abc', status: 200, durationMs: 12.3 };

test('logHttpModes: bare modes apply to every module, module:mode to one, later wins', () => {
  assert.deepEqual(logHttpModes([]), { api: 'none', proxy: 'none', control: 'none' });
  assert.deepEqual(logHttpModes(['url']), { api: 'url', proxy: 'url', control: 'url' });
  assert.deepEqual(logHttpModes(['errors', 'proxy:headers']), {
    api: 'errors',
    proxy: 'headers',
    control: 'errors',
  });
});

test('none logs nothing; short-url drops the query; url keeps it', () => {
  const a = capture();
  createHttpLogger(a.log, 'none').log(ok);
  assert.equal(a.lines.length, 0);
  const b = capture();
  createHttpLogger(b.log, 'short-url').log(ok);
  assert.match(b.lines[0]!, /\[proxy\] \[INFO\] GET http:\/\/app:3000\/path status=200 duration=12ms/);
  assert.doesNotMatch(b.lines[0]!, /token/);
  const c = capture();
  createHttpLogger(c.log, 'url').log(ok);
  assert.match(c.lines[0]!, /GET http:\/\/app:3000\/path\?token=abc status=200/);
});

test('errors mode logs only failures', () => {
  const a = capture();
  const l = createHttpLogger(a.log, 'errors');
  l.log(ok);
  l.log({ ...ok, status: 502, error: 'connection refused' });
  assert.equal(a.lines.length, 1);
  assert.match(a.lines[0]!, /\[ERROR\] GET .* status=502 .*error="connection refused"/);
});

test('headers mode masks Authorization, Proxy-Authorization and Cookie values', () => {
  const a = capture();
  createHttpLogger(a.log, 'headers').log({
    ...ok,
    reqHeaders: {
      authorization: 'Basic dXNlcjpzZWNyZXQ=',
      'Proxy-Authorization': 'Basic cHJveHk6c2VjcmV0',
      cookie: 'session=SECRET-COOKIE',
      accept: 'text/html',
    },
    resHeaders: { 'set-cookie': 'id=SECRET-SET', 'content-type': 'text/plain' },
  });
  const line = a.lines.join('');
  assert.doesNotMatch(line, /dXNlcjpzZWNyZXQ|cHJveHk6c2VjcmV0|SECRET-COOKIE|SECRET-SET/);
  assert.match(line, /Basic \*\*\*\*/);
  assert.match(line, /text\/html/);
  assert.match(line, /content-type/);
});
