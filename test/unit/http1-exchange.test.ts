/**
 * The HTTP/1 exchange core (src/protocol/http1-exchange.ts) driven in-process with byte vectors: every split
 * point of requests and responses, pipelining, smuggling shapes, chunked bodies, responses without length, 1xx,
 * HEAD/204/304; and the pipeline's header rules (src/client/egress/pipeline.ts) on the heads it parses.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  RequestParser,
  ResponseParser,
  type ParseError,
  type RequestHead,
  type ResponseHead,
} from '../../src/protocol/http1-exchange.js';
import { HOP_BY_HOP } from '../../src/protocol/tunnel-protocol.js';
import { EgressPipeline, targetOf, type Fields } from '../../src/client/egress/pipeline.js';
import { createClientMetrics } from '../../src/client/api/metrics.js';
import { nullLogger } from '../../src/observability/log.js';

type Ev = string;

/** Feeds `pieces` to a request parser that asks for the next request as soon as one ends; returns the events. */
function requests(pieces: Buffer[], maxHeaderSize = 8192, decode = false): Ev[] {
  const out: Ev[] = [];
  let body: Buffer[] = [];
  const p: RequestParser = new RequestParser(
    {
      head: (h: RequestHead) => out.push(`head ${h.method} ${h.target} ${h.body.kind} ka=${h.keepAlive}`),
      body: (b) => body.push(Buffer.from(b)),
      end: () => {
        out.push(`end ${JSON.stringify(Buffer.concat(body).toString('latin1'))}`);
        body = [];
        p.next();
      },
      error: (e: ParseError) => out.push(`error ${e.code} ${e.message}`),
    },
    { maxHeaderSize, decode },
  );
  for (const piece of pieces) p.push(piece);
  if (p.buffered > 0) out.push(`buffered ${p.buffered}`);
  return out;
}

/** Every way of cutting `bytes` in two, and byte by byte: each must give the events of the whole. */
function everySplit(bytes: Buffer, run: (pieces: Buffer[]) => Ev[]): Ev[] {
  const whole = run([bytes]);
  for (let i = 1; i < bytes.length; i++) {
    assert.deepEqual(run([bytes.subarray(0, i), bytes.subarray(i)]), whole, `split at ${i}`);
  }
  const bytewise = [];
  for (let i = 0; i < bytes.length; i++) bytewise.push(bytes.subarray(i, i + 1));
  assert.deepEqual(run(bytewise), whole, 'byte by byte');
  return whole;
}

const b = (s: string): Buffer => Buffer.from(s, 'latin1');

test('pipelined requests, every split point: GET, Content-Length, chunked with extensions and trailers', () => {
  const bytes = b(
    'GET http://a.test/x HTTP/1.1\r\nHost: a.test\r\n\r\n' +
      'POST http://a.test/p HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello' +
      'PUT http://a.test/c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n' +
      '3;ext=1\r\nabc\r\n2\r\nde\r\n0\r\nX-Trailer: 1\r\n\r\n' +
      'GET http://a.test/last HTTP/1.0\r\n\r\n',
  );
  const events = everySplit(bytes, (pieces) => requests(pieces));
  assert.deepEqual(events, [
    'head GET http://a.test/x none ka=true',
    'end ""',
    'head POST http://a.test/p length ka=true',
    'end "hello"',
    'head PUT http://a.test/c chunked ka=true',
    'end "3;ext=1\\r\\nabc\\r\\n2\\r\\nde\\r\\n0\\r\\nX-Trailer: 1\\r\\n\\r\\n"',
    'head GET http://a.test/last none ka=false',
    'end ""',
  ]);
});

test('chunked request bodies decode to their payload at every split point', () => {
  const bytes = b(
    'POST http://a.test/ HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n1;x\r\n!\r\n0\r\n\r\n',
  );
  const events = everySplit(bytes, (pieces) => requests(pieces, 8192, true));
  assert.deepEqual(events, ['head POST http://a.test/ chunked ka=true', 'end "hello!"']);
});

test('a request parser holds the next request until next()', () => {
  const out: string[] = [];
  const p = new RequestParser(
    {
      head: (h) => out.push(h.target),
      body: () => undefined,
      end: () => out.push('end'),
      error: (e) => out.push(e.message),
    },
    { maxHeaderSize: 1024 },
  );
  p.push(b('GET http://a/1 HTTP/1.1\r\n\r\nGET http://a/2 HTTP/1.1\r\n\r\n'));
  assert.deepEqual(out, ['http://a/1', 'end']);
  assert.equal(p.buffered, 'GET http://a/2 HTTP/1.1\r\n\r\n'.length);
  p.next();
  assert.deepEqual(out, ['http://a/1', 'end', 'http://a/2', 'end']);
  assert.equal(p.buffered, 0);
});

test('smuggling shapes and malformed heads are errors, at every split point, and nothing is read after them', () => {
  const cases: [string, string][] = [
    ['POST http://a/ HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n', 'bad_request'],
    ['POST http://a/ HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n', 'bad_request'],
    ['POST http://a/ HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n', 'bad_request'],
    ['POST http://a/ HTTP/1.1\r\nContent-Length: 3, 4\r\n\r\n', 'bad_request'],
    ['POST http://a/ HTTP/1.1\r\nContent-Length: +3\r\n\r\n', 'bad_request'],
    ['POST http://a/ HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n', 'bad_request'],
    ['POST http://a/ HTTP/1.1\r\nTransfer-Encoding: chunked, identity\r\n\r\n', 'bad_request'],
    ['GET http://a/ HTTP/1.1\r\nX-A: 1\r\n folded\r\n\r\n', 'bad_request'],
    ['GET http://a/ HTTP/1.1\r\nBad Name: 1\r\n\r\n', 'bad_request'],
    ['GET http://a/ HTTP/1.1\r\nNoColon\r\n\r\n', 'bad_request'],
    ['get http://a/ HTTP/1.1\r\n\r\n', 'bad_request'],
    ['FOO http://a/ HTTP/1.1\r\n\r\n', 'bad_request'],
    ['GET http://a/ HTTP/2.0\r\n\r\n', 'bad_request'],
    ['POST http://a/ HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n', 'bad_request'],
    ['POST http://a/ HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n', 'bad_request'],
    ['POST http://a/ HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1;a\nb\r\n', 'bad_request'],
    [`GET http://a/ HTTP/1.1\r\nX-Big: ${'x'.repeat(300)}\r\n\r\n`, 'header_too_large'],
  ];
  for (const [text, code] of cases) {
    // A valid request follows: it must never be read as one (the connection is done after the error).
    const bytes = b(`${text}GET http://a/smuggled HTTP/1.1\r\n\r\n`);
    const events = everySplit(bytes, (pieces) => requests(pieces, 256));
    const last = events.at(-1) ?? '';
    assert.ok(last.startsWith(`error ${code}`), `${JSON.stringify(text)} -> ${events.join(' | ')}`);
    assert.ok(!events.some((e) => e.includes('smuggled')), `${JSON.stringify(text)} read past the error`);
  }
});

test('a head of exactly the size limit is read; one byte more is 431', () => {
  const line = 'GET http://a/ HTTP/1.1\r\nX: ';
  const head = (n: number): Buffer => b(`${line}${'y'.repeat(n - line.length)}\r\n\r\n`);
  assert.deepEqual(requests([head(100)], 100), ['head GET http://a/ none ka=true', 'end ""']);
  assert.match(requests([head(101)], 100)[0]!, /^error header_too_large/);
});

test('a connection that ends inside a message is an error; between messages it is not', () => {
  const out: string[] = [];
  const p = new RequestParser(
    {
      head: () => out.push('head'),
      body: () => undefined,
      end: () => out.push('end'),
      error: (e) => out.push(e.code),
    },
    { maxHeaderSize: 1024 },
  );
  p.push(b('POST http://a/ HTTP/1.1\r\nContent-Length: 4\r\n\r\nab'));
  assert.equal(p.eof(), false);
  assert.deepEqual(out, ['head', 'bad_request']);
  const q = new RequestParser(
    { head: () => undefined, body: () => undefined, end: () => undefined, error: () => out.push('x') },
    { maxHeaderSize: 1024 },
  );
  q.push(b('GET http://a/ HTTP/1.1\r\n\r\n'));
  assert.equal(q.eof(), false);
  assert.deepEqual(out, ['head', 'bad_request']);
});

/** Feeds responses to `methods` (one expect() per response, the next as soon as one ends). */
function responses(pieces: Buffer[], methods: string[], decode = false, eof = false): Ev[] {
  const out: Ev[] = [];
  let body: Buffer[] = [];
  const queue = [...methods];
  const p: ResponseParser = new ResponseParser(
    {
      interim: (h: ResponseHead, raw) => out.push(`interim ${h.status} ${JSON.stringify(raw.toString())}`),
      head: (h: ResponseHead) => out.push(`head ${h.status} ${h.reason} ${h.body.kind} ka=${h.keepAlive}`),
      body: (c) => body.push(Buffer.from(c)),
      end: () => {
        out.push(`end ${JSON.stringify(Buffer.concat(body).toString('latin1'))}`);
        body = [];
        const next = queue.shift();
        if (next) p.expect(next);
      },
      error: (e) => out.push(`error ${e.code} ${e.message}`),
    },
    { maxHeaderSize: 4096, decode },
  );
  p.expect(queue.shift()!);
  for (const piece of pieces) p.push(piece);
  if (eof) out.push(`eof ${p.eof()}`);
  if (p.buffered > 0) out.push(`buffered ${p.buffered}`);
  return out;
}

test('responses in order, every split point: 100 Continue, length, chunked, HEAD, 204 and 304 without bodies', () => {
  const bytes = b(
    'HTTP/1.1 100 Continue\r\n\r\n' +
      'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok' +
      'HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n' + // HEAD: the length describes the GET answer
      'HTTP/1.1 204 No Content\r\nContent-Length: 7\r\n\r\n' +
      'HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n' +
      'HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nbody\r\n0\r\n\r\n',
  );
  const methods = ['POST', 'HEAD', 'GET', 'GET', 'PUT'];
  const events = everySplit(bytes, (pieces) => responses(pieces, methods));
  assert.deepEqual(events, [
    'interim 100 "HTTP/1.1 100 Continue\\r\\n\\r\\n"',
    'head 200 OK length ka=true',
    'end "ok"',
    'head 200 OK none ka=true',
    'end ""',
    'head 204 No Content none ka=true',
    'end ""',
    'head 304 Not Modified none ka=true',
    'end ""',
    'head 201 Created chunked ka=true',
    'end "4\\r\\nbody\\r\\n0\\r\\n\\r\\n"',
  ]);
  const decoded = everySplit(bytes, (pieces) => responses(pieces, methods, true));
  assert.equal(decoded.at(-1), 'end "body"');
});

test('a response without length ends with the connection; bytes after a complete response are kept', () => {
  const noLength = b('HTTP/1.0 200 OK\r\nX: 1\r\n\r\nuntil the end');
  assert.deepEqual(
    everySplit(noLength, (pieces) => responses(pieces, ['GET'], false, true)),
    ['head 200 OK close ka=false', 'end "until the end"', 'eof true'],
  );
  assert.deepEqual(responses([b('HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nxEXTRA')], ['GET']), [
    'head 200 OK length ka=true',
    'end "x"',
    'buffered 5',
  ]);
  const cut = responses([b('HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nabc')], ['GET'], false, true);
  assert.deepEqual(cut.slice(-2), ['error bad_request the connection ended inside a message', 'eof false']);
  assert.deepEqual(
    responses([b('HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n')], ['GET']),
    ['head 200 OK none ka=false', 'end ""'],
  );
});

test('bad responses: 101 unasked, status line, smuggling shapes', () => {
  for (const text of [
    'HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\n',
    'HTTP/1.1 2000 OK\r\n\r\n',
    'ICY 200 OK\r\n\r\n',
    'HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n',
    'HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n',
    'HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n',
  ]) {
    const events = everySplit(b(text), (pieces) => responses(pieces, ['GET']));
    assert.match(events.at(-1)!, /^error bad_request/, text);
  }
});

test('header rules: one hop-by-hop set, Connection-named fields, Host from the target, Via, auth and header hooks', () => {
  const metrics = createClientMetrics();
  const cfg = {
    proxyLocalhost: 'allow' as const,
    dialTimeoutMs: 1000,
    dialAttempts: 1,
    dialBackoffMs: 0,
    idleConnTimeoutMs: 0,
    responseHeaderTimeoutMs: 0,
  };
  const fields: Fields = [
    ['Host', 'wrong.test'],
    ['Connection', 'keep-alive, X-Hop'],
    ['X-Hop', 'secret'],
    ['Keep-Alive', 'timeout=5'],
    ['Proxy-Authorization', 'Basic x'],
    ['Proxy-Connection', 'keep-alive'],
    ['TE', 'trailers'],
    ['Upgrade', 'h2c'],
    ['Content-Length', '3'],
    ['Via', '1.0 corp'],
    ['Accept', 'text/html'],
  ];
  const target = targetOf('app.test:8080', 80)!;
  const plain = new EgressPipeline(cfg, { log: nullLogger, metrics });
  const head = plain.requestHead(
    'POST',
    '/x?y',
    target,
    fields,
    ['keep-alive', 'x-hop'],
    { kind: 'length', n: 3 },
    '1.1',
  );
  assert.equal(
    head,
    'POST /x?y HTTP/1.1\r\nHost: app.test:8080\r\nContent-Length: 3\r\nAccept: text/html\r\n' +
      'Via: 1.0 corp, 1.1 sluice\r\n\r\n',
  );
  for (const name of HOP_BY_HOP) assert.ok(!head.toLowerCase().includes(`\n${name}:`), name);
  // Chunked bodies keep their framing for the next hop; no Via when the server already added one.
  assert.equal(
    plain.requestHead(
      'PUT',
      '/',
      target,
      [
        ['Transfer-Encoding', 'chunked'],
        ['Via', '2 sluice'],
      ],
      [],
      { kind: 'chunked' },
    ),
    'PUT / HTTP/1.1\r\nHost: app.test:8080\r\nVia: 2 sluice\r\nTransfer-Encoding: chunked\r\n\r\n',
  );

  const seen: string[] = [];
  const ruled = new EgressPipeline(cfg, {
    log: nullLogger,
    metrics,
    rules: {
      authorization: (t) => (seen.push(t.key), 'Basic dTpw'),
      headers: (f) => {
        f.push(['X-Added', '1']);
        const i = f.findIndex(([n]) => n.toLowerCase() === 'accept');
        if (i >= 0) f.splice(i, 1);
      },
    },
  });
  const injected = ruled.requestHead('GET', '/', target, [['Accept', '*/*']], [], { kind: 'none' });
  assert.equal(
    injected,
    'GET / HTTP/1.1\r\nHost: app.test:8080\r\nAuthorization: Basic dTpw\r\nX-Added: 1\r\n\r\n',
  );
  assert.deepEqual(seen, ['app.test:8080']);
  const own = ruled.requestHead('GET', '/', target, [['authorization', 'Bearer mine']], [], { kind: 'none' });
  assert.match(own, /authorization: Bearer mine/);
  assert.doesNotMatch(own, /Basic dTpw/);

  // Responses: hop-by-hop (Transfer-Encoding among them) and Connection-named fields out, Content-Length kept.
  let parsed: ResponseHead | undefined;
  const p = new ResponseParser(
    {
      interim: () => undefined,
      head: (h) => (parsed = h),
      body: () => undefined,
      end: () => undefined,
      error: assert.fail,
    },
    { maxHeaderSize: 1024 },
  );
  p.expect('GET');
  p.push(
    b(
      'HTTP/1.1 200 OK\r\nConnection: X-Res\r\nX-Res: 1\r\nTransfer-Encoding: chunked\r\nSet-Cookie: a=1\r\n' +
        'Set-Cookie: b=2\r\nProxy-Authenticate: Basic\r\nVia: 1.1 app\r\n\r\n',
    ),
  );
  assert.deepEqual(plain.responseFields(parsed!, '1.1'), [
    ['Set-Cookie', 'a=1'],
    ['Set-Cookie', 'b=2'],
    ['Via', '1.1 app, 1.1 sluice'],
  ]);
  assert.deepEqual(plain.responseFields(parsed!).at(-1), ['Via', '1.1 app']);
});

test('targets: authorities with ports and IPv6, and what is not one', () => {
  assert.deepEqual(targetOf('[::1]:8080', 80), {
    hostname: '[::1]',
    host: '::1',
    port: 8080,
    key: '::1:8080',
    authority: '[::1]:8080',
  });
  assert.equal(targetOf('a.test', 80)?.key, 'a.test:80');
  for (const bad of ['', 'a.test:0', 'a.test:65536', 'u@a.test', 'a.test/x', 'a b', '[zz]:1', 'a.test:'])
    assert.equal(targetOf(bad, 80), null, bad);
});
