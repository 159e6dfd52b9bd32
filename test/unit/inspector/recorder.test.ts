/**
 * The inspector's recorder in process: masking of credentials and of sc's own secrets, bodies rendered from what
 * was captured (chunked framing, gzip, truncation, binary), both memory bounds, and HAR 1.2 validity.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import zlib from 'node:zlib';
import { dechunk, detail, har, renderBody } from '../../../src/client/inspector/har.js';
import { maskHeader, scrub } from '../../../src/client/inspector/mask.js';
import { BodyCapture, Inspector, type Change } from '../../../src/client/inspector/recorder.js';
import type { ResponseHead } from '../../../src/protocol/http1-exchange.js';
import { validateHar } from '../../kit/index.js';

const inspector = (over: Partial<ConstructorParameters<typeof Inspector>[0]> = {}): Inspector =>
  new Inspector({ maxRequests: 100, maxBytes: 1 << 20, maxBody: 1024, secrets: [], ...over });

function response(status: number, fields: [string, string][], chunked = false): ResponseHead {
  return {
    status,
    reason: 'OK',
    head: { fields } as ResponseHead['head'],
    http10: false,
    body: chunked ? { kind: 'chunked' } : { kind: 'none' },
    connection: [],
    keepAlive: true,
    headBytes: 0,
  };
}

test('credentials are masked as recorded; the scheme and cookie names stay', () => {
  const seen: string[] = [];
  assert.equal(maskHeader('Authorization', 'Bearer abc.def.ghi', [], seen), 'Bearer ****');
  assert.equal(maskHeader('proxy-authorization', 'Basic dXNlcjpodW50ZXIy', [], seen), 'Basic ****');
  assert.equal(maskHeader('Cookie', 'a=1111; b=2222', [], seen), 'a=****; b=****');
  assert.equal(maskHeader('Set-Cookie', 'sid=s3cr3t; Path=/; Secure', [], seen), 'sid=****; Path=/; Secure');
  assert.equal(maskHeader('X-Api-Key', 'key-TOPSECRET-1', ['TOPSECRET'], seen), 'key-****-1');
  assert.equal(maskHeader('Accept', 'text/html', ['TOPSECRET'], seen), 'text/html');
  // What was masked is remembered (the decoded Basic password too) for the bodies; values under 4 chars are not.
  assert.deepEqual(seen, ['abc.def.ghi', 'dXNlcjpodW50ZXIy', 'hunter2', '1111', '2222', 's3cr3t']);
  assert.equal(
    scrub('{"auth":"Bearer abc.def.ghi","p":"hunter2"}', seen),
    '{"auth":"Bearer ****","p":"****"}',
  );
});

test('a record: head as sent, rules, masked body echo, finish and the live feed', () => {
  const ins = inspector({ secrets: ['OPTION-SECRET'] });
  const changes: Change['type'][] = [];
  ins.subscribe((c) => changes.push(c.type));
  const r = ins.begin('splice', 'GET', 'http://app:3000/x?token=OPTION-SECRET');
  r.sent(
    'GET /x HTTP/1.1\r\nHost: app:3000\r\nAuthorization: Basic c2l0ZTpwYXNzd29yZDE=\r\nX-Added: yes\r\n\r\n',
    true,
    true,
  );
  r.connected('proxy http://10.0.0.1:3128', true);
  r.response(response(200, [['Content-Type', 'application/json']]), false);
  r.firstByte();
  r.responseData(Buffer.from('{"echo":"Basic c2l0ZTpwYXNzd29yZDE=","pw":"password1"}'));
  r.finish(200, undefined, 80, 120);
  const d = detail(r);
  assert.equal(d.url, 'http://app:3000/x?token=****');
  assert.deepEqual(d.rules, ['--auth', '--header']);
  assert.equal(d.route, 'proxy http://10.0.0.1:3128');
  assert.deepEqual(d.requestHeaders[1], { name: 'Authorization', value: 'Basic ****' });
  assert.equal(d.responseBody.text, '{"echo":"Basic ****","pw":"****"}');
  assert.ok(
    d.timings.connect >= 0 && d.timings.ttfb >= d.timings.connect && d.timings.total >= d.timings.ttfb,
  );
  assert.deepEqual([d.bytesUp, d.bytesDown, d.done], [80, 120, true]);
  assert.deepEqual(changes, ['add', 'update']);
});

test('bodies: chunked framing removed, gzip decoded, capped and flagged, binary as base64', () => {
  assert.equal(
    dechunk(Buffer.from('5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\n\r\n')).toString(),
    'hello world',
  );
  assert.equal(dechunk(Buffer.from('a\r\nonly')).toString(), 'only', 'a truncated capture keeps what it has');

  const gz = new BodyCapture();
  const z = zlib.gzipSync('compressed text');
  gz.chunks.push(z);
  gz.kept = gz.total = z.length;
  const headers = [
    { name: 'Content-Type', value: 'text/plain' },
    { name: 'Content-Encoding', value: 'gzip' },
  ];
  assert.equal(renderBody(gz, headers, []).text, 'compressed text');
  gz.truncated = true;
  assert.equal(renderBody(gz, headers, []).encoding, 'base64', 'a cut gzip stream is not decoded');

  const ins = inspector({ maxBody: 10 });
  const r = ins.begin('stream', 'POST', 'http://a/');
  r.sent('POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n', false, false);
  r.requestData(Buffer.from('4\r\nabcd\r\n'));
  r.requestData(Buffer.from('4\r\nefgh\r\n0\r\n\r\n'));
  const body = detail(r).requestBody;
  assert.equal(body.truncated, true);
  assert.equal(body.size, 23);
  assert.equal(body.text, 'abcd', 'the first 10 bytes on the wire ("4\r\nabcd\r\n4"), unframed');

  const bin = new BodyCapture();
  bin.chunks.push(Buffer.from([0, 1, 2, 255]));
  bin.kept = bin.total = 4;
  assert.deepEqual(renderBody(bin, [{ name: 'content-type', value: 'image/png' }], []), {
    size: 4,
    mimeType: 'image/png',
    truncated: false,
    text: 'AAEC/w==',
    encoding: 'base64',
  });
});

test('the ring keeps the newest --inspector-max-requests records', () => {
  const ins = inspector({ maxRequests: 3 });
  const evicted: number[] = [];
  ins.subscribe((c) => c.type === 'evict' && evicted.push(c.id));
  for (let i = 0; i < 5; i++) ins.begin('stream', 'GET', `http://a/${i}`).finish(200, undefined, 0, 0);
  assert.deepEqual(
    ins.list().map((r) => r.url),
    ['http://a/2', 'http://a/3', 'http://a/4'],
  );
  assert.deepEqual(evicted, [1, 2]);
  assert.equal(ins.get(1), undefined);
});

test('the byte budget evicts the oldest, then truncates a body that alone exceeds it', () => {
  const ins = inspector({ maxBytes: 8 * 1024, maxBody: 4096 });
  const big = Buffer.alloc(3000, 'x');
  for (let i = 0; i < 5; i++) {
    const r = ins.begin('stream', 'GET', `http://a/${i}`);
    r.responseData(big);
    r.finish(200, undefined, 0, 3000);
  }
  assert.ok(ins.usedBytes() <= 8 * 1024, `${ins.usedBytes()}`);
  assert.deepEqual(
    ins.list().map((r) => r.url),
    ['http://a/3', 'http://a/4'],
  );
  const lone = inspector({ maxBytes: 2048, maxBody: 4096 });
  const r = lone.begin('stream', 'GET', 'http://a/big');
  r.responseData(big);
  assert.equal(r.responseBody.truncated, true);
  assert.equal(r.responseBody.kept, 0);
  assert.equal(r.responseBody.total, 3000);
  assert.ok(lone.usedBytes() <= 2048);
  // An evicted record stops taking memory: writes into it are dropped.
  const keep = inspector({ maxRequests: 1 });
  const old = keep.begin('stream', 'GET', 'http://a/old');
  keep.begin('stream', 'GET', 'http://a/new');
  old.responseData(big);
  assert.equal(old.responseBody.kept, 0);
});

test('HAR 1.2: a plain request, a failed one and a CONNECT validate against the schema', async () => {
  const ins = inspector();
  const a = ins.begin('splice', 'GET', 'http://app:3000/p?x=1&y=2');
  a.sent('GET /p?x=1&y=2 HTTP/1.1\r\nHost: app:3000\r\nCookie: k=vvvv\r\n\r\n', false, false);
  a.response(
    response(302, [
      ['Location', '/next'],
      ['Set-Cookie', 'k=wwww; Path=/'],
    ]),
    false,
  );
  a.finish(302, undefined, 50, 60);
  ins.begin('stream', 'GET', 'http://app:1/').finish(502, 'dial_refused', 0, 0);
  const c = ins.begin('connect', 'CONNECT', 'app:443');
  c.connected('direct', true);
  c.finish(200, undefined, 517, 4096);
  const h = har(ins.list()) as {
    log: {
      entries: { request: Record<string, unknown>; response: Record<string, unknown>; _error: string }[];
    };
  };
  await validateHar(h);
  const [e1, e2, e3] = h.log.entries;
  assert.deepEqual(e1!.request['queryString'], [
    { name: 'x', value: '1' },
    { name: 'y', value: '2' },
  ]);
  assert.deepEqual(e1!.request['cookies'], [{ name: 'k', value: '****' }]);
  assert.equal(e1!.response['redirectURL'], '/next');
  assert.equal(e2!._error, 'dial_refused');
  assert.equal(e3!.request['url'], 'https://app:443/');
  assert.equal(e3!.response['bodySize'], 4096);
});
