/**
 * Generators of hostile HTTP/1.1 requests for the proxy entry: odd methods, request targets and versions,
 * bare LF and bare CR line ends, smuggling shapes (Transfer-Encoding with Content-Length, two Content-Lengths,
 * obs-fold, odd codings), oversized and malformed headers, and proxy credentials that are right, wrong, for
 * unknown users or malformed.
 *
 * Every host a generated request can reach is loopback: targets are 127.0.0.1/localhost/[::1] at the test's app
 * port or a closed port, or shapes that no URL parser accepts; never a name that would need DNS.
 */
import fc from 'fast-check';

export interface ProxyFuzzEnv {
  /** Port of the private-side HTTP app (reached through the tunnel). */
  appPort: number;
  /** A loopback port nobody listens on. */
  closedPort: number;
  /** Proxy-Authorization value that routes to the running tunnel. */
  goodAuth: string;
  /** A real user (not the health check's) and its key, for wrong-key and unknown-tunnel variants. */
  otherUser: string;
  otherKey: string;
  tunnelName: string;
}

export interface FuzzRequest {
  bytes: Buffer;
  /** Short description for a failure message. */
  label: string;
}

const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64');

/** Safe hosts only: loopback literals, spelled several ways. */
const loopbackHost = fc.constantFrom('127.0.0.1', 'localhost', '127.1', '0x7f.0.0.1', '[::1]', 'LOCALHOST');

/** Authorities that must be refused before anything is dialled (no port, bad port, path, userinfo, spaces). */
const brokenAuthority = fc.constantFrom(
  '127.0.0.1',
  '127.0.0.1:',
  ':80',
  '127.0.0.1:999999',
  '127.0.0.1:-1',
  '127.0.0.1:80/x',
  'u@127.0.0.1:80',
  '[::1:80',
  '127.0.0.1 :80',
  '',
  '*',
);

const pathArb = fc.oneof(
  {
    weight: 10,
    arbitrary: fc.constantFrom(
      '/',
      '/status/204',
      '/echo',
      '/bytes/100',
      '/%2e%2e/%2e%2e/etc/passwd',
      '/?a=%ZZ',
      '/#frag',
    ),
  },
  { weight: 5, arbitrary: fc.stringMatching(/^\/[\x21-\x7e]{0,40}$/) },
  { weight: 1, arbitrary: fc.integer({ min: 8000, max: 70000 }).map((n) => '/' + 'a'.repeat(n)) },
);

function targetArb(env: ProxyFuzzEnv): fc.Arbitrary<string> {
  const port = fc.oneof(
    { weight: 12, arbitrary: fc.constant(String(env.appPort)) },
    { weight: 1, arbitrary: fc.constant(String(env.closedPort)) },
    { weight: 2, arbitrary: fc.constantFrom('0', '65536', '00080', '+80', 'abc', '') },
  );
  return fc.oneof(
    {
      weight: 20,
      arbitrary: fc.tuple(loopbackHost, port, pathArb).map(([h, p, path]) => `http://${h}:${p}${path}`),
    },
    {
      weight: 1,
      arbitrary: fc.tuple(loopbackHost, pathArb).map(([h, path]) => `https://${h}:${env.appPort}${path}`),
    },
    {
      weight: 1,
      arbitrary: fc.tuple(loopbackHost, pathArb).map(([h, path]) => `ws://${h}:${env.appPort}${path}`),
    },
    { weight: 1, arbitrary: pathArb },
    {
      weight: 1,
      arbitrary: fc.constantFrom('*', '', 'http://', 'http://:80/', 'ftp://127.0.0.1/'),
    },
    {
      weight: 1,
      // Any bytes, letters blanked so that no host name can form.
      arbitrary: fc.stringMatching(/^[^]{0,30}$/).map((s) => s.replace(/[a-z]/gi, '!')),
    },
  );
}

function connectTarget(env: ProxyFuzzEnv): fc.Arbitrary<string> {
  return fc.oneof(
    fc
      .tuple(loopbackHost, fc.constantFrom(String(env.appPort), String(env.closedPort), '0', '99999'))
      .map(([h, p]) => `${h}:${p}`),
    brokenAuthority,
  );
}

const methodArb = fc.oneof(
  { weight: 20, arbitrary: fc.constantFrom('GET', 'POST', 'PUT', 'HEAD', 'DELETE', 'OPTIONS', 'PATCH') },
  { weight: 1, arbitrary: fc.constantFrom('get', 'TRACE', 'PRI', 'G ET', 'GET\t', '', 'XYZZY', 'M-SEARCH') },
  { weight: 1, arbitrary: fc.stringMatching(/^[\x21-\x7e]{1,16}$/) },
);

const versionArb = fc.oneof(
  { weight: 25, arbitrary: fc.constant('HTTP/1.1') },
  {
    weight: 1,
    arbitrary: fc.constantFrom('HTTP/1.0', 'HTTP/2.0', 'HTTP/1.2', 'HTTP/0.9', 'http/1.1', 'HTTP/1.1 x', ''),
  },
);

const eolArb = fc.oneof(
  { weight: 25, arbitrary: fc.constant('\r\n') },
  { weight: 1, arbitrary: fc.constantFrom('\n', '\r') },
);

function authArb(env: ProxyFuzzEnv): fc.Arbitrary<string[]> {
  const user = (u: string, tunnel: string): string => `${u};tunnel=${tunnel}`;
  return fc
    .oneof(
      { weight: 10, arbitrary: fc.constant([env.goodAuth]) },
      { weight: 1, arbitrary: fc.constant([]) },
      { weight: 1, arbitrary: fc.constant([env.goodAuth, env.goodAuth]) },
      {
        weight: 3,
        arbitrary: fc
          .oneof(
            fc
              .string({ maxLength: 30 })
              .map((k) => 'Basic ' + b64(`${user(env.otherUser, env.tunnelName)}:${k}`)),
            fc.constant('Basic ' + b64(`${user(env.otherUser, 'no-such-tunnel')}:${env.otherKey}`)),
            fc.constant(
              'Basic ' + b64(`${env.otherUser};owner=nobody;tunnel=${env.tunnelName}:${env.otherKey}`),
            ),
            fc.constant('Basic ' + b64(`${env.otherUser};bogus=1:${env.otherKey}`)),
            fc.constant('Basic ' + b64(`%ZZ;tunnel=%:x`)),
            fc.constantFrom(
              'Basic',
              'Basic !!!',
              'Bearer abc',
              'Basic ' + b64('nocolon'),
              'basic ' + b64(':'),
              '',
            ),
            fc.stringMatching(/^[\x20-\x7e]{0,60}$/).map((s) => 'Basic ' + b64(s)),
            fc.uint8Array({ maxLength: 40 }).map((a) => 'Basic ' + Buffer.from(a).toString('base64')),
          )
          .map((v) => [v]),
      },
    )
    .map((values) => values.map((v) => `Proxy-Authorization: ${v}`));
}

/** Body framing, including the request-smuggling shapes. */
const framingArb = fc.oneof(
  { weight: 6, arbitrary: fc.constant({ headers: [] as string[], body: '' }) },
  {
    weight: 2,
    arbitrary: fc
      .string({ maxLength: 200 })
      .map((b) => ({ headers: [`Content-Length: ${Buffer.byteLength(b)}`], body: b })),
  },
  {
    weight: 1,
    arbitrary: fc.constant({ headers: ['Transfer-Encoding: chunked'], body: '5\r\nhello\r\n0\r\n\r\n' }),
  },
  {
    weight: 3,
    arbitrary: fc.constantFrom(
      { headers: ['Transfer-Encoding: chunked', 'Content-Length: 4'], body: '0\r\n\r\n' },
      {
        headers: ['Content-Length: 4', 'Transfer-Encoding: chunked'],
        body: '5\r\nhello\r\n0\r\n\r\nGET / HTTP/1.1\r\n\r\n',
      },
      { headers: ['Content-Length: 3', 'Content-Length: 5'], body: 'hello' },
      { headers: ['Content-Length: 5', 'Content-Length: 5'], body: 'hello' },
      { headers: ['Content-Length: 5, 5'], body: 'hello' },
      { headers: ['Content-Length: -1'], body: '' },
      { headers: ['Content-Length: 0x10'], body: '' },
      { headers: ['Content-Length: 99999999999999999999'], body: '' },
      { headers: ['Content-Length : 5'], body: 'hello' },
      { headers: ['Transfer-Encoding: chunked, identity'], body: '0\r\n\r\n' },
      { headers: ['Transfer-Encoding: identity, chunked'], body: '0\r\n\r\n' },
      { headers: ['Transfer-Encoding: gzip'], body: 'xx' },
      { headers: ['Transfer-Encoding:  chunked'], body: '0\r\n\r\n' },
      { headers: ['Transfer-Encoding: xchunked'], body: '0\r\n\r\n' },
      { headers: ['Transfer-Encoding: chunked', 'Transfer-Encoding: chunked'], body: '0\r\n\r\n' },
      { headers: ['Transfer-Encoding:\r\n chunked'], body: '0\r\n\r\n' },
      { headers: ['Transfer-Encoding: chunked'], body: 'zz\r\nhello\r\n0\r\n\r\n' },
      { headers: ['Transfer-Encoding: chunked'], body: '5;ext="a\r\nhello\r\n0\r\n\r\n' },
      { headers: ['Transfer-Encoding: chunked'], body: 'ffffffffffffffff\r\nx\r\n' },
      { headers: ['Transfer-Encoding: chunked'], body: '5\nhello\n0\n\n' },
      { headers: ['Transfer-Encoding: chunked'], body: '0\r\nTrailer: x\r\n\r\n' },
      { headers: ['Expect: 100-continue', 'Content-Length: 5'], body: 'hello' },
    ),
  },
);

const headerName = fc.oneof(
  fc.constantFrom(
    'X-Test',
    'Host',
    'Connection',
    'Upgrade',
    'Keep-Alive',
    'Proxy-Connection',
    'Te',
    'Via',
    'Cookie',
  ),
  fc.stringMatching(/^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,20}$/),
);

const headerLine = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.tuple(headerName, fc.stringMatching(/^[\x20-\x7e]{0,60}$/)).map(([n, v]) => `${n}: ${v}`),
  },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      'X-Folded: a\r\n b',
      ' leading-space: x',
      'NoColon',
      'Bad Name: x',
      'X-Nul: a\x00b',
      'X-Del: a\x7fb',
      'X-High: \xff\xfe',
      ': empty-name',
      'Host:',
      'Connection: close, x-test',
      'Connection: Upgrade',
      'Upgrade: websocket',
      'Upgrade: h2c',
      'Proxy-Connection: keep-alive',
      'X-Bare-CR: a\rb',
      'Te: trailers',
    ),
  },
  { weight: 1, arbitrary: fc.integer({ min: 1000, max: 20000 }).map((n) => `X-Big: ${'b'.repeat(n)}`) },
);

export function proxyRequestArb(env: ProxyFuzzEnv): fc.Arbitrary<FuzzRequest> {
  const plain = fc.record({
    method: methodArb,
    target: targetArb(env),
    version: versionArb,
    eol: eolArb,
    auth: authArb(env),
    host: fc.boolean(),
    headers: fc.array(headerLine, { maxLength: 4 }),
    many: fc.oneof(
      { weight: 9, arbitrary: fc.constant(0) },
      { weight: 1, arbitrary: fc.integer({ min: 100, max: 3000 }) },
    ),
    framing: framingArb,
    pipelined: fc.boolean(),
  });
  const connect = fc.record({
    method: fc.constant('CONNECT'),
    target: connectTarget(env),
    version: versionArb,
    eol: eolArb,
    auth: authArb(env),
    host: fc.boolean(),
    headers: fc.array(headerLine, { maxLength: 3 }),
    many: fc.constant(0),
    framing: fc.constant({ headers: [] as string[], body: '' }),
    pipelined: fc.boolean(),
  });
  return fc.oneof({ weight: 4, arbitrary: plain }, { weight: 1, arbitrary: connect }).map((r) => {
    const lines = [
      [r.method, r.target, r.version].filter((x) => x !== '').join(' '),
      ...(r.host ? [`Host: 127.0.0.1:${env.appPort}`] : []),
      ...r.auth,
      ...r.headers,
      ...Array.from({ length: r.many }, (_, i) => `X-Many-${i}: ${i}`),
      ...r.framing.headers,
    ];
    // A pipelined second request behind the first (what a smuggler hides in a body).
    const tail = r.pipelined
      ? `GET http://127.0.0.1:${env.appPort}/ HTTP/1.1${r.eol}${r.auth[0] ?? ''}${r.eol}${r.eol}`
      : '';
    const text = lines.join(r.eol) + r.eol + r.eol + r.framing.body + tail;
    const label = `${r.method} ${r.target.slice(0, 80)} ${r.version} [${[
      ...r.auth,
      ...r.headers,
      ...r.framing.headers,
    ]
      .map((h) => h.slice(0, 60))
      .join(
        ' | ',
      )}]${r.many ? ` +${r.many} headers` : ''}${r.pipelined ? ' +pipelined' : ''} body=${JSON.stringify(r.framing.body.slice(0, 40))}`;
    return { bytes: Buffer.from(text, 'latin1'), label, [fc.toStringMethod]: () => JSON.stringify(label) };
  });
}
