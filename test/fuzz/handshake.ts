/**
 * Generators for the tunnel edge: handshakes that are wrong in every part (path, method, Upgrade, bearer
 * shape, token, a stopped tunnel's token, protocol version, line ends, sizes), bytes in front of TLS, and after
 * a valid-looking 101 the HTTP/2 frames a hostile "sc" could send (floods of SETTINGS, PING, RST_STREAM and
 * WINDOW_UPDATE, bad SETTINGS values, garbage HPACK, unknown frame types, huge lengths).
 */
import fc from 'fast-check';
import type { CreatedTunnel } from './edge.js';

export interface EdgeFuzzEnv {
  /** A running tunnel (created over REST, no sc) whose token is right. */
  live: CreatedTunnel;
  /** A stopped tunnel: its token is a replay. */
  stopped: CreatedTunnel;
}

export interface EdgeInput {
  plain?: Buffer;
  head: Buffer;
  after101?: Buffer[];
  label: string;
}

/** One HTTP/2 frame: 24-bit length, type, flags, 31-bit stream id, payload. */
export function frame(
  type: number,
  flags: number,
  stream: number,
  payload: Buffer,
  length = payload.length,
): Buffer {
  const h = Buffer.alloc(9);
  h.writeUIntBE(length & 0xffffff, 0, 3);
  h[3] = type & 0xff;
  h[4] = flags & 0xff;
  h.writeUInt32BE(stream >>> 0, 5);
  return Buffer.concat([h, payload]);
}

const settings = (pairs: [number, number][]): Buffer => {
  const p = Buffer.alloc(pairs.length * 6);
  pairs.forEach(([id, v], i) => {
    p.writeUInt16BE(id & 0xffff, i * 6);
    p.writeUInt32BE(v >>> 0, i * 6 + 2);
  });
  return frame(4, 0, 0, p);
};

const bytes = (max: number): fc.Arbitrary<Buffer> =>
  fc.uint8Array({ maxLength: max }).map((a) => Buffer.from(a));

/** What follows a 101: a sequence of frames, starting with a (maybe bad) server preface. */
export const h2Frames: fc.Arbitrary<{ chunks: Buffer[]; label: string }> = fc.oneof(
  bytes(200).map((b) => ({ chunks: [b], label: `random ${b.length} bytes` })),
  fc
    .array(
      fc
        .tuple(fc.integer({ min: 0, max: 12 }), fc.nat(255), fc.nat(7), bytes(64))
        .map(([t, f, s, p]) => frame(t, f, s, p)),
      { maxLength: 20 },
    )
    .map((fs) => ({ chunks: [settings([]), ...fs], label: `${fs.length} random frames` })),
  fc
    .constantFrom(
      ['settings flood', () => Array.from({ length: 2000 }, () => settings([[1, 4096]]))],
      ['ping flood', () => Array.from({ length: 2000 }, (_, i) => frame(6, 0, 0, Buffer.alloc(8, i)))],
      ['rst flood', () => Array.from({ length: 2000 }, (_, i) => frame(3, 0, 1 + 2 * i, Buffer.alloc(4, 8)))],
      [
        'window overflow',
        () => [
          frame(8, 0, 0, Buffer.from([0x7f, 0xff, 0xff, 0xff])),
          frame(8, 0, 0, Buffer.from([0x7f, 0xff, 0xff, 0xff])),
        ],
      ],
      ['zero window update', () => [frame(8, 0, 0, Buffer.alloc(4))]],
      ['bad initial window', () => [settings([[4, 0x80000000]])]],
      ['bad max frame size', () => [settings([[5, 1]])]],
      ['enable push 7', () => [settings([[2, 7]])]],
      ['settings ack with payload', () => [frame(4, 1, 0, Buffer.alloc(6))]],
      ['settings on a stream', () => [frame(4, 0, 1, Buffer.alloc(0))]],
      ['huge frame length', () => [frame(0, 0, 1, Buffer.alloc(0), 0xffffff)]],
      ['garbage hpack', () => [frame(1, 4, 1, Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f]))]],
      ['headers on stream 0', () => [frame(1, 5, 0, Buffer.from([0x82]))]],
      ['continuation without headers', () => [frame(9, 4, 1, Buffer.from([0x82]))]],
      [
        'endless continuation',
        () => [
          frame(1, 0, 1, Buffer.from([0x82])),
          ...Array.from({ length: 500 }, () => frame(9, 0, 1, Buffer.alloc(1000, 0x40))),
        ],
      ],
      ['goaway', () => [frame(7, 0, 0, Buffer.alloc(8))]],
      ['data on idle stream', () => [frame(0, 1, 99, Buffer.from('x'))]],
      ['unknown type', () => [frame(0xfa, 0, 0, Buffer.alloc(10))]],
    )
    .map(([label, make]) => ({
      chunks: [settings([]), ...make()],
      label: label,
    })),
);

const bearerArb = (env: EdgeFuzzEnv): fc.Arbitrary<string | null> =>
  fc.oneof(
    { weight: 4, arbitrary: fc.constant(`Bearer ${env.live.id}.${env.live.token}`) },
    { weight: 1, arbitrary: fc.constant(null) },
    {
      weight: 4,
      arbitrary: fc.oneof(
        fc.constant(`Bearer ${env.stopped.id}.${env.stopped.token}`),
        fc.constant(`Bearer ${env.live.id}.${env.stopped.token}`),
        fc.constant(`Bearer ${env.stopped.id}.${env.live.token}`),
        fc.stringMatching(/^[A-Za-z0-9_-]{16,40}$/).map((t) => `Bearer ${env.live.id}.${t}`),
        fc.constant(`Bearer ${'0'.repeat(32)}.${env.live.token}`),
        fc.constant(`bearer ${env.live.id}.${env.live.token}`),
        fc.constant(`Bearer ${env.live.id}${env.live.token}`),
        fc.constant(`Bearer ${env.live.id}.${'a'.repeat(200)}`),
        fc.constant(`Basic ${Buffer.from('admin:x').toString('base64')}`),
        fc.stringMatching(/^[\x20-\x7e]{0,80}$/),
      ),
    },
  );

export function edgeInputArb(env: EdgeFuzzEnv): fc.Arbitrary<EdgeInput> {
  return fc
    .record({
      plain: fc.oneof({ weight: 6, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: bytes(300) }),
      method: fc.oneof(
        { weight: 6, arbitrary: fc.constant('GET') },
        { weight: 1, arbitrary: fc.constantFrom('POST', 'CONNECT', 'PRI', 'get') },
      ),
      path: fc.oneof(
        { weight: 6, arbitrary: fc.constant('/tunnel/v1/connect') },
        {
          weight: 1,
          arbitrary: fc.constantFrom(
            '/',
            '/tunnel/v2/connect',
            '/tunnel/v1/connect?x=1',
            '*',
            '/tunnel/v1/connect/',
          ),
        },
      ),
      upgrade: fc.oneof(
        { weight: 6, arbitrary: fc.constant('sluice-tunnel/1') },
        {
          weight: 1,
          arbitrary: fc.constantFrom('', 'h2c', 'websocket', 'SLUICE-TUNNEL/1', 'sluice-tunnel/2'),
        },
      ),
      connection: fc.oneof(
        { weight: 6, arbitrary: fc.constantFrom('Upgrade', 'upgrade') },
        { weight: 1, arbitrary: fc.constantFrom('close', 'keep-alive', null) },
      ),
      bearer: bearerArb(env),
      version: fc.oneof(
        { weight: 5, arbitrary: fc.constant(null) },
        { weight: 1, arbitrary: fc.constantFrom('1', '2', '0', 'x', '1, 1', '') },
      ),
      maxStreams: fc.oneof(
        { weight: 5, arbitrary: fc.constant(null) },
        { weight: 1, arbitrary: fc.constantFrom('0', '-1', '1e9', 'NaN', '99999999999') },
      ),
      extra: fc.array(fc.stringMatching(/^[A-Za-z-]{1,12}: [\x20-\x7e]{0,30}$/), { maxLength: 3 }),
      big: fc.oneof(
        { weight: 9, arbitrary: fc.constant(0) },
        { weight: 1, arbitrary: fc.integer({ min: 1000, max: 80000 }) },
      ),
      eol: fc.oneof(
        { weight: 9, arbitrary: fc.constant('\r\n') },
        { weight: 1, arbitrary: fc.constant('\n') },
      ),
      after: fc.option(h2Frames, { freq: 2 }),
    })
    .map((r) => {
      const fields = [
        'Host: edge',
        ...(r.connection ? [`Connection: ${r.connection}`] : []),
        ...(r.upgrade ? [`Upgrade: ${r.upgrade}`] : []),
        ...(r.bearer !== null ? [`Authorization: ${r.bearer}`] : []),
        ...(r.version !== null ? [`X-Sluice-Protocol-Version: ${r.version}`] : []),
        ...(r.maxStreams !== null ? [`X-Sluice-Max-Streams: ${r.maxStreams}`] : []),
        ...r.extra,
        ...(r.big ? [`X-Big: ${'b'.repeat(r.big)}`] : []),
      ];
      const head = Buffer.from(
        [`${r.method} ${r.path} HTTP/1.1`, ...fields].join(r.eol) + r.eol + r.eol,
        'latin1',
      );
      const label = `${r.plain ? `[${r.plain.length} bytes before TLS] ` : ''}${r.method} ${r.path} ${fields
        .map((f) => f.slice(0, 50))
        .join(' | ')}${r.eol === '\n' ? ' (LF)' : ''}${r.after ? ` then ${r.after.label}` : ''}`;
      return {
        plain: r.plain,
        head,
        after101: r.after?.chunks,
        label,
        [fc.toStringMethod]: () => JSON.stringify(label),
      };
    });
}
