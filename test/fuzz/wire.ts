/**
 * Raw exchanges for the fuzzer: write bytes on a fresh TCP or TLS connection and report what came back (the
 * status line and head of the first non-1xx response), whether the peer closed, and whether the bound ran out
 * first (a hang).
 */
import net from 'node:net';
import tls from 'node:tls';

export interface WireAnswer {
  status: number | null;
  head: string;
  /** The peer closed (or reset) the connection before or after answering. */
  closed: boolean;
  /** Neither an answer nor a close within the bound. */
  timedOut: boolean;
  error?: string;
  /** Time from connect to answer or close. */
  ms: number;
}

export interface WireOptions {
  host?: string;
  port: number;
  /** A loopback source address (127.0.0.x) so per-source limits do not hit the health checks from 127.0.0.1. */
  localAddress?: string;
  /** Bytes written before any TLS (garbage in front of a TLS listener). */
  plain?: Buffer;
  /** Connect with TLS, then write `chunks`. */
  tls?: tls.ConnectionOptions;
  chunks: Buffer[];
  /** Half-close after writing (so a server waiting for more bytes sees the end). */
  end?: boolean;
  /** On a 101 answer: write these, half-close, and wait for the peer to close (within the bound). */
  after101?: Buffer[];
  boundMs: number;
}

export function header(status: string | null, head: string, name: string): string | undefined {
  if (status === null) return undefined;
  const m = new RegExp(`^${name}:[ \\t]*(.*)$`, 'im').exec(head);
  return m?.[1]?.trim();
}

export function exchange(opts: WireOptions): Promise<WireAnswer> {
  return new Promise((resolve) => {
    const host = opts.host ?? '127.0.0.1';
    let buf = Buffer.alloc(0);
    let done = false;
    const started = Date.now();
    const answer: WireAnswer = { status: null, head: '', closed: false, timedOut: false, ms: 0 };
    const finish = (): void => {
      if (done) return;
      done = true;
      answer.ms = Date.now() - started;
      clearTimeout(timer);
      socket.destroy();
      resolve(answer);
    };
    let upgraded = false;
    const onData = (d: Buffer): void => {
      if (upgraded) return;
      buf = Buffer.concat([buf, d]);
      for (;;) {
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) {
          if (buf.length > 1 << 20) finish();
          return;
        }
        const head = buf.subarray(0, end).toString('latin1');
        buf = buf.subarray(end + 4);
        const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(head)?.[1] ?? 0) || null;
        if (status !== null && status >= 100 && status < 200 && status !== 101) continue;
        answer.status = status;
        answer.head = head;
        if (status === 101 && opts.after101) {
          upgraded = true;
          for (const c of opts.after101) socket.write(c);
          socket.end();
          return;
        }
        return finish();
      }
    };
    const write = (s: net.Socket): void => {
      for (const c of opts.chunks) s.write(c);
      if (opts.end) s.end();
    };
    let socket: net.Socket;
    const raw = net.connect({ host, port: opts.port, localAddress: opts.localAddress });
    if (opts.plain) raw.write(opts.plain);
    if (opts.tls) {
      const secure = tls.connect({ ...opts.tls, socket: raw });
      secure.once('secureConnect', () => write(secure));
      raw.on('error', () => undefined);
      socket = secure;
    } else {
      raw.once('connect', () => write(raw));
      socket = raw;
    }
    socket.on('data', onData);
    socket.on('error', (err: NodeJS.ErrnoException) => {
      answer.closed = true;
      answer.error = err.code ?? err.message;
      finish();
    });
    socket.on('close', () => {
      answer.closed = true;
      finish();
    });
    const timer = setTimeout(() => {
      answer.timedOut = true;
      finish();
    }, opts.boundMs);
  });
}

/** A loopback source address other than 127.0.0.1, chosen by the generator. */
export const sourceAddress = (n: number): string => `127.0.0.${2 + (Math.abs(n) % 250)}`;
