/**
 * The framing rules of the spliced-connection relay: where a message ends, and what is refused because two
 * parties could read it differently (request smuggling, RFC 9112 section 6.3).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { bodyOf, ChunkedScanner, FramingError, parseHead } from '../../src/protocol/http1-framing.js';

const head = (...fields: string[]): ReturnType<typeof parseHead> =>
  parseHead(['GET http://a/ HTTP/1.1', ...fields].join('\r\n'));

test('Content-Length and chunked framing are read; neither means the default', () => {
  assert.deepEqual(bodyOf(head('Content-Length: 12'), { kind: 'none' }), { kind: 'length', n: 12 });
  assert.deepEqual(bodyOf(head('Content-Length: 0'), { kind: 'close' }), { kind: 'none' });
  assert.deepEqual(bodyOf(head('Content-Length: 7, 7'), { kind: 'none' }), { kind: 'length', n: 7 });
  assert.deepEqual(bodyOf(head('Transfer-Encoding: Chunked'), { kind: 'none' }), { kind: 'chunked' });
  assert.deepEqual(bodyOf(head('X-A: 1'), { kind: 'close' }), { kind: 'close' });
});

test('ambiguous framing is refused', () => {
  const bad = [
    ['Content-Length: 5', 'Transfer-Encoding: chunked'],
    ['Content-Length: 5', 'Content-Length: 6'],
    ['Content-Length: -1'],
    ['Content-Length: 1e3'],
    ['Transfer-Encoding: gzip, chunked'],
    ['Transfer-Encoding: chunked', 'Transfer-Encoding: chunked'],
  ];
  for (const fields of bad)
    assert.throws(() => bodyOf(head(...fields), { kind: 'none' }), FramingError, fields.join(' | '));
  assert.throws(() => head(' folded: value'), FramingError);
  assert.throws(() => head('Bad Name: x'), FramingError);
  assert.throws(() => head('no colon'), FramingError);
});

test('the chunked scanner finds the end across any split, with extensions and trailers', () => {
  const body = Buffer.from('5;ext=1\r\nhello\r\nA\r\n0123456789\r\n0\r\nX-Trailer: t\r\n\r\n');
  const after = Buffer.from('GET http://next/ HTTP/1.1\r\n\r\n');
  const all = Buffer.concat([body, after]);
  for (let split = 1; split < all.length; split++) {
    const s = new ChunkedScanner();
    const n1 = s.scan(all.subarray(0, split), 0);
    const n2 = s.done ? 0 : s.scan(all.subarray(split), 0);
    assert.equal(n1 + n2, body.length, `split at ${split}`);
    assert.ok(s.done);
  }
});

test('malformed chunked bodies are refused', () => {
  for (const bad of ['g\r\n', '5\r\nhelloX', '\r\n', '5\nhello', 'fffffffffffff\r\n']) {
    assert.throws(() => new ChunkedScanner().scan(Buffer.from(bad), 0), FramingError, JSON.stringify(bad));
  }
});
